// Package opt is bpfcompile's optimizer of classic BPF programs: Optimize
// returns a program equivalent to its input on every packet and no longer
// than it, as libpcap's optimizer does for the code its generator emits.
//
// The program is cut into basic blocks (graph.go). A forward dataflow over
// the graph (analysis.go) gives every point the value numbers in A, X and
// M[] (a value number names a computation: the same packet load, constant
// or arithmetic on the same operands; value.go), the facts the branches
// taken so far establish about values (facts.go, factset.go), the loads
// known to succeed and a lower bound of the packet length. With them the
// passes (passes.go, thread.go, peephole.go, chain.go)
//   - drop instructions that write a register with the value it already
//     holds (a header field loaded again), fold constants and turn X
//     operands known to be constants into immediates;
//   - decide branches whose outcome the path implies and thread edges past
//     such branches (after "ether type is IPv4", a later "is it IPv6" on
//     that path is known false);
//   - remove instructions whose result nothing reads and that cannot end
//     the program early (a packet load that might run off the packet stays);
//   - send every path that can only return 0 to one "ret #0", merge
//     identical blocks, bypass empty ones and lay the blocks out again in
//     their original order, with long jumps where a branch would skip more
//     than 255 instructions.
//
// The passes run in rounds until a round changes nothing (optimize.go). The
// analysis is redone after a pass that changed the graph (only the
// registers' values for the passes that need no more), except inside jump
// threading, which redirects one edge at a time and keeps the analysis up
// to date incrementally (thread.go). The optimizer counts its work and
// stops when its budget runs out, returning the program as the last pass
// left it.
//
// The passes keep a program the kernel accepts acceptable; the compiler
// still checks the result with the kernel's rules and keeps the
// unoptimized program should a pass have a bug.
package opt
