// Package afpackettest builds TPACKET_V3 ring blocks in ordinary memory,
// laid out as the kernel's tpacket_rcv lays them out, so that tests can
// play the kernel for code that reads rings: afpacket's own tests, and
// tests of code that keeps blocks through an afpacket.Conn over memory
// (afpacket.NewMemConn).
//
// It knows the kernel's layout (linux/if_packet.h), not afpacket's code:
// it imports no package of the project.
package afpackettest
