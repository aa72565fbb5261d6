// Package capfiletest reads back the pcapng files that package capfile
// writes, for the tests of capfile and of the agent: an independent
// parser (it shares no code or constant with the writer) that checks every
// block length, so that a test compares what it meant to write with what
// is in the file.
package capfiletest
