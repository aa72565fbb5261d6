// Command compilebench compares bpfcompile.Compile's compile time with
// libpcap's pcap_compile (optimizer on), on the same machine in the same
// run (issue 14): ten typical filters and five long chains
// (bpftest.SpeedCases). Run it from the repository root:
//
//	go run ./scripts/compilebench                      # our side only
//	go run ./scripts/compilebench -libpcap-bench PATH  # beside libpcap
//	scripts/libpcap/run.sh bench LIBPCAP_SRC           # builds PATH, then runs this
//
// PATH is scripts/libpcap/bench.c built against a libpcap (see
// scripts/libpcap/README.md). The two take turns (-turns, default 5): in a
// turn the C benchmark times every filter, then this program does. A time
// is CPU time per compile (the process's, its garbage collector's work
// included; the C side's CLOCK_PROCESS_CPUTIME_ID), the median of rounds
// of at least -round each; the table shows each side's best turn, the
// time least disturbed by the machine's other work. It also shows the
// programs' lengths and the heap allocations of one of our compiles
// (each costs time of its own and brings the next collection nearer). With -check, the exit status is 1 when the median
// ratio over the typical filters is above 2 or a long chain takes longer
// than libpcap's.
//
// With -repeat N it times nothing: it compiles each typical filter (or
// the one -expr names) N times and exits, for an instruction count that
// does not depend on the machine's load:
//
//	go build -o /tmp/cb ./scripts/compilebench
//	GODEBUG=asyncpreemptoff=1 GOGC=off GOMAXPROCS=1 valgrind --tool=callgrind /tmp/cb -repeat 1000 -expr 'tcp port 443'
//
// less the count of the same run with -repeat 0, divided by N, is the
// instructions of one compile (GOGC=off leaves the collector's work out,
// which depends on timing; GOMAXPROCS=1 keeps idle workers away;
// GODEBUG=asyncpreemptoff=1 keeps callgrind from failing on the
// preemption signal). With -cpuprofile FILE the compiles run under the
// CPU profiler, collector included:
//
//	/tmp/cb -repeat 20000 -cpuprofile /tmp/cpu.prof && go tool pprof -top /tmp/cb /tmp/cpu.prof
//
// It is a command of its own, not a test, so that what it times is the
// compiler as the daemon links it: test binaries link test helpers whose
// package-level tables make every garbage collection cycle, and so every
// allocation, dearer.
package main
