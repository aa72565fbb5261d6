// Package opt is bpfcompile's optimizer of classic BPF programs. It makes
// of a program what libpcap's optimizer makes of it: the same verdict on
// every packet the program reads to a return, and libpcap's verdict on the
// packets cut short, where libpcap's optimizer changes the outcome. That
// optimizer treats packet loads as free of effects: it drops a load whose
// value nothing reads, skips a block whose two branches meet (its loads
// with it), and moves a test of a value already loaded before a load that
// can fail ("port 80 or 443" tests the source port against both before it
// loads the destination port). tcpdump users get tcpdump's verdicts.
//
// The program is cut into basic blocks (graph.go), as libpcap's code
// generator makes them: each block loads what it tests. The passes run in
// rounds, in two phases, as libpcap's do:
//   - the branch phase numbers the values of the registers at every block
//     (a value number names a computation: the same load, constant or
//     arithmetic on the same operands; values.go, number.go), rewrites short
//     patterns, removes definitions nothing reads, then threads edges past
//     the tests the path decides (the same test of the same value on an
//     edge that dominates, or an equality test's true edge) and past blocks
//     whose branches meet, and pulls tests of one value together in chains
//     of "or" and of "and" (branch.go, pullup.go; a pull moves every later test of the
//     value, and the pulls sweep the blocks until none moves, which libpcap
//     spreads over rounds), until a round changes nothing (or libpcap's
//     limit of rounds that only move branches);
//   - the statement phase numbers the values again, now rewriting the
//     statements: constants fold, redundant loads and stores go, constant
//     index registers become offsets, and a division, modulus or shift by a
//     constant the program cannot run with is an error, as libpcap reports
//     it.
//
// Then blocks that do the same are merged, the entry moves past tests
// whose branches meet, and the blocks are laid out as libpcap lays them
// out, with long jumps where a branch would skip more than 255
// instructions (emit.go). The analyses (analysis.go: order, edges in,
// dominators, registers read and written) are redone in a round where the
// edges or statements changed, from arrays reused from round to round;
// value numbering keeps its table across rounds and skips a block whose
// statements, values at entry and registers read after it are as when it
// was last numbered (number.go says when). The optimizer counts its work and
// stops when its budget runs out, returning the program as the last round
// left it.
//
// The passes keep a program the kernel accepts acceptable; the compiler
// still checks the result with the kernel's rules and keeps the
// unoptimized program should a pass have a bug.
package opt
