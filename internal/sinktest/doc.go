// Package sinktest holds what the sink, transport and end-to-end tests
// share about the cloud side: in-memory capture data and real pcap bytes
// (with a tcpdump read-back), and test servers started for one test — a
// versitygw S3 server, a goaws SQS server in a network namespace and a
// fake of Cloudshark's upload API. The servers' binaries are installed by
// scripts/testservers.sh.
package sinktest
