// Package readerat turns the io.ReadSeeker a capture's data hands out into
// the io.ReaderAt that the sinks' request bodies read sections of.
package readerat
