// Package e2e holds the tests that run the built pcapdaemon binary: end to
// end against real servers (redis-server, versitygw, goaws) and real
// capture sockets in network namespaces, faults (a server restarting, the
// process killed, signals), hostile input, the binary in a bare root with
// only CAP_NET_RAW, the deployment files.
//
// The binary is built once per test run (CGO_ENABLED=0, as shipped), the
// first time a test asks for it; the tests run in the repository's root
// directory, so that they name its files (deploy/, testdata/) as a reader
// of the repository does.
package e2e
