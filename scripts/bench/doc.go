// Command bench measures the capture path at line rate (issue 5): it runs
// `pcapdaemon capture` and tcpdump on the same traffic, in the same run,
// alternating, and prints what each captured, the kernel's drops and the
// CPU time each spent per million frames captured.
//
// Run it as root from the repository root:
//
//	go run ./scripts/bench                      # 1,000,000 frames per run, 2 rounds
//	go run ./scripts/bench -frames 200000 -rounds 1
//
// It makes a network namespace and a veth pair between it and the current
// namespace (addresses from 198.18.0.0/15, the benchmarking range; names
// carry the pid), both removed on exit, on error and on SIGINT/SIGTERM.
// Traffic comes from a generator of its own: this program re-executed inside
// the namespace (`ip netns exec`), writing UDP frames out of the far end of
// the pair with AF_PACKET and sendmmsg(2), as fast as it goes, a fixed number
// of frames and for a bounded time. The frames carry a destination MAC
// address that is not the near end's, so the host's IP stack drops them
// early and the only work left is the capturers'.
//
// Four configurations: 60-byte frames (64 with the FCS) and 1514-byte frames
// (a full 1500-byte MTU), each with no filter and with a filter that keeps
// half of the frames ("udp dst port 9999"; the other half go to port 9998).
// For each configuration and round every capturer runs once, in an order
// that alternates between rounds, each on its own burst of the traffic: it
// captures with -c set to the frames the filter keeps and is interrupted
// (SIGINT) if it has not seen them all a second after the generator is done;
// each then prints tcpdump's counters, which are parsed. The capturers:
//
//	pcapdaemon    pcapdaemon capture -c N --bytes 0 -w /dev/null: keeps every byte of
//	              every frame in memory (1.5 GB for a million 1514-byte frames)
//	              and writes the file to /dev/null at the end
//	tcpdump       tcpdump -c N -w /dev/null: throws the bytes away as it goes
//	tcpdump-shm   tcpdump -c N -w FILE in /dev/shm: keeps every byte in memory
//	              (tmpfs) too, the like-for-like comparison (-shm=false skips it)
//
// Both use their default ring (-B sets one size for both) and snap length
// (262144). CPU time is the capturer process's user+system time from
// wait4(2)'s rusage, start-up and the final write included, per million
// frames captured; the kernel's copy into the ring runs in the sender's
// softirq and is charged to neither. On a shared machine, -nice -10 gives
// the bench (and everything it starts) the upper hand over other work.
//
// A last phase reports the peak RSS (ru_maxrss) of `pcapdaemon capture -C
// 100000000` fed 1514-byte frames until its 100 MB byte limit stops it, and
// its peaks sampled from /proc/PID/status every 5 ms split in anonymous
// memory (the buffer and the Go heap) and file-backed pages (the binary's
// text and read-only data, and the ring, which the kernel counts as a
// mapping of the socket).
package main
