// Package capture is the logic of "pcapdaemon capture": its command line,
// read as tcpdump's getopt reads it (ParseArgs, with the tcpdump options
// it does not implement refused by name), one capture through the daemon's
// engine (agent.CaptureOnce) or one file read with -r and filtered with
// the project's VM, tcpdump's messages on stderr ("listening on ...",
// "reading from file ...", the closing counters), and the output: one line
// per frame, or the file, streamed as frames come (stdout, a FIFO, -U) or
// written atomically when the capture ends. The root package holds the
// usage text and calls ParseArgs and Run.
package capture
