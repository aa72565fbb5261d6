// Package sinktest holds what the sink tests share: in-memory capture data,
// real pcap bytes, the lookup of the test servers' binaries (installed by
// scripts/testservers.sh) and a versitygw S3 server started for one test.
package sinktest
