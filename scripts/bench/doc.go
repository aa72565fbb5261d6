// Command bench measures the capture path at line rate (issues 5 and 12): it
// runs `pcapdaemon capture` and tcpdump on the same traffic, in the same run,
// alternating, and prints what each captured, the kernel's drops, and the CPU
// time each spent per million frames captured while capturing, apart from
// what it spent setting up and writing out.
//
// Run it as root from the repository root:
//
//	go run ./scripts/bench                      # 1,000,000 frames per run, 2 rounds
//	go run ./scripts/bench -frames 300000 -nice -10
//
// It makes a network namespace and a veth pair between it and the current
// namespace (addresses from 198.18.0.0/15, the benchmarking range; names
// carry the pid), both removed on exit, on error and on SIGINT/SIGTERM.
// Traffic comes from a generator of its own: this program re-executed inside
// the namespace (`ip netns exec`), writing UDP frames out of the far end of
// the pair with AF_PACKET and sendmmsg(2), as fast as it goes or at a set
// rate (-rates; 400 kpps by default besides full speed), a fixed number of
// frames and for a bounded time. The frames carry a destination MAC address
// that is not the near end's, so the host's IP stack drops them early and
// the only work left is the capturers'.
//
// Configurations: 60-byte frames (64 with the FCS) and 1514-byte frames (a
// full 1500-byte MTU), at each rate, each with no filter and with a filter
// that keeps half of the frames ("udp dst port 9999"; the other half go to
// port 9998). For each configuration and round every capturer runs once, in
// an order that alternates between rounds, each on its own burst of the
// traffic. A run has three phases, timed apart:
//
//	set-up      from the start of the process to its "listening on" line
//	            (pcapdaemon: the ring's allocation, up to 1 GiB)
//	capture     from that line until the generator has finished and -settle
//	            (2 s) has passed: "CPU s/M capturing", from the threads'
//	            /proc/PID/task/*/schedstat (nanoseconds)
//	write-out   from the SIGINT that ends the capture until the counters are
//	            printed, after the file is written; its GB/s is the file's
//	            size over that time (CPU: until the process has exited)
//
// With -count each capturer gets -c with the frames the filter keeps and may
// end by itself inside the window. The capturers:
//
//	pcapdaemon      pcapdaemon capture -s 262144 --bytes 0 -w /dev/null: keeps
//	                every byte of every frame in memory (in its ring) and
//	                writes the file to /dev/null at the end
//	pcapdaemon-shm  the same writing into a file in tmpfs (/dev/shm)
//	tcpdump         tcpdump -s 262144 -w /dev/null: throws the bytes away
//	                as it goes
//	tcpdump-shm     tcpdump writing into tmpfs: keeps every byte in memory
//	                too, as it goes (-shm=false skips both -shm capturers)
//
// Both use their default ring (-B sets one size for both); pcapdaemon's is
// sized from its limits, 1 GiB for a capture without one. The kernel's copy
// into the ring runs in the sender's softirq and is charged to neither. On
// a shared machine, -nice -10 gives the bench (and everything it starts) the
// upper hand over other work.
//
// The table of the issue comes last: per configuration the medians of both
// capturers' CPU per million frames captured while capturing, their ratio,
// the worst capture ratio of each; then set-up, write-out and peak RSS.
//
// A last phase (-rss) reports the peak RSS (ru_maxrss) of `pcapdaemon
// capture --bytes 100000000` fed 1514-byte and then 60-byte frames until its
// 100 MB byte limit stops it, with its peaks sampled from /proc/PID/status
// every 5 ms split in anonymous memory (chunks and the Go heap) and
// file-backed pages (the binary's text and read-only data, and the ring,
// which the kernel counts as a mapping of the socket), and the resident
// memory of the daemon idle for 5 s (HTTP API on loopback, a local sink).
package main
