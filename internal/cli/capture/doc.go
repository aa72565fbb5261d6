// Package capture is the logic of "pcapdaemon capture": one capture
// through the daemon's engine (agent.CaptureOnce), with tcpdump's messages
// on stderr ("listening on ..." once a socket is armed, the closing
// counters), one line per frame or the file written atomically (-w). The
// root package parses the command line.
package capture
