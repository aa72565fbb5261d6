package capture

// The tcpdump options pcapdaemon capture does not implement, each with a
// message that says what it is in tcpdump and what to use instead: an
// option tcpdump users type must never be taken for something else (issue
// 14: "-C 10" was a byte limit here and file rotation there).

var rotation = "pcapdaemon capture does not rotate files: "

var refusedShort = map[byte]string{
	'C': "-C is tcpdump's file rotation by size; " + rotation + "use --bytes N to stop after N bytes",
	'G': "-G is tcpdump's file rotation by time; " + rotation + "use --duration S to stop after S seconds",
	'W': "-W is tcpdump's number of rotated files; " + rotation + "use --bytes N or --duration S to bound the one file",
	'z': "-z is tcpdump's command run on each rotated file; " + rotation + "run the command on the -w file when the capture ends",
	'Z': "-Z is tcpdump's switch to another user; pcapdaemon capture stays the user it runs as: run it as that user with CAP_NET_RAW",
	'v': "-v is tcpdump's verbose decoding; not implemented: write the file with -w and read it with tcpdump -v -r FILE",
	'y': "-y selects the capture's link type; not implemented: the link type is the interface's (pcapdaemon bpf -y DLT compiles for another)",
	'd': "-d, -dd and -ddd print the compiled filter: use pcapdaemon bpf -d EXPRESSION (with -i IFACE for the program the capture attaches)",
	'D': "-D lists the interfaces: use pcapdaemon interfaces",
	'L': "-L lists the link types: use pcapdaemon interfaces, which shows each interface's",
	'J': "-J lists timestamp types; not implemented: the ring's timestamps are the kernel's software ones",
	'j': "-j selects a timestamp type; not implemented: the ring's timestamps are the kernel's software ones",
	'I': "-I is monitor mode; not implemented: pcapdaemon capture opens the interface in its current mode",
	'O': "-O turns the filter optimizer off; not implemented for captures: pcapdaemon bpf -O shows the unoptimized program",
	'K': "-K stops tcpdump verifying checksums while decoding; pcapdaemon capture decodes no checksums: drop it",
	'N': "-N shortens host names; pcapdaemon capture prints no names: drop it",
	'u': "-u decodes NFS handles; not implemented: write the file with -w and read it with tcpdump -u -r FILE",
	'f': "-f prints foreign IPv4 addresses numerically; pcapdaemon capture prints every address numerically: drop it",
	'H': "-H detects 802.11s mesh headers; not implemented: write the file with -w and read it with tcpdump -H -r FILE",
	'b': "-b prints AS numbers in BGP; not implemented: write the file with -w and read it with tcpdump -b -r FILE",
	'#': "-# numbers the lines; not implemented",
	'E': "-E decrypts IPsec ESP; not implemented: write the file with -w and read it with tcpdump -E ... -r FILE",
	'M': "-M sets a TCP-MD5 secret for decoding; not implemented: write the file with -w and read it with tcpdump -M ... -r FILE",
	'T': "-T forces a packet type for decoding; not implemented: write the file with -w and read it with tcpdump -T ... -r FILE",
	'm': "-m loads SMI MIB modules; not implemented",
	'V': "-V reads a list of files; not implemented: give each file to -r",
}

var refusedLong = map[string]string{
	"count":                 "--count is tcpdump's count-only output for -r; not implemented: -w /dev/null prints the counters",
	"immediate-mode":        "--immediate-mode: pcapdaemon capture always gets frames from the ring within its block timeout (10 ms); drop it",
	"time-stamp-precision":  "--time-stamp-precision is not implemented: the lines print microseconds, the files keep nanoseconds",
	"micro":                 "--micro is not implemented: the lines print microseconds, the files keep nanoseconds",
	"nano":                  "--nano is not implemented: the lines print microseconds, the files keep nanoseconds",
	"time-stamp-type":       refusedShortMsg('j'),
	"list-time-stamp-types": refusedShortMsg('J'),
	"list-interfaces":       refusedShortMsg('D'),
	"list-data-link-types":  refusedShortMsg('L'),
	"linktype":              refusedShortMsg('y'),
	"monitor-mode":          refusedShortMsg('I'),
	"no-optimize":           refusedShortMsg('O'),
	"dont-verify-checksums": refusedShortMsg('K'),
	"number":                refusedShortMsg('#'),
	"relinquish-privileges": refusedShortMsg('Z'),
	"print":                 "--print prints the lines while writing with -w; not implemented: read the -w file with tcpdump -r",
	"print-sampling":        "--print-sampling is not implemented",
	"version":               "--version: use pcapdaemon version",
	"lengths":               "--lengths is not implemented",
	"fp-type":               "--fp-type is not implemented",
}

// refusedShortMsg is the message of a short option for its long name.
func refusedShortMsg(c byte) string { return refusedShort[c] }
