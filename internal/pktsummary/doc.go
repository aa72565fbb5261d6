// Package pktsummary describes a captured frame in one short line:
// addresses, protocol and ports, as far as the captured bytes go. The
// agent's packetdebug logging and the capture command's per-packet lines
// print it; it reads the bytes only and never fails, so a truncated or
// unknown frame gets a line saying what is missing.
package pktsummary
