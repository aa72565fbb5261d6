// Command pcapdaemon is a triggered packet-capture agent: it takes capture
// requests from Redis, SQS or its HTTP API, captures on AF_PACKET sockets with
// a kernel BPF filter and delivers pcap files to local disk, S3 or Cloudshark.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:]))
}

// run dispatches the sub-commands and returns the process exit status.
func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "bpf":
			return runBPF(args[1:], os.Stdout, os.Stderr)
		case "interfaces":
			return runInterfaces(args[1:], os.Stdout, os.Stderr)
		case "request":
			return runRequest(args[1:], os.Stdout, os.Stderr)
		case "capture":
			return runCapture(args[1:], os.Stdout, os.Stderr)
		case "cancel":
			return runCancel(args[1:], os.Stdout, os.Stderr)
		case "nodes":
			return runNodes(args[1:], os.Stdout, os.Stderr)
		case "check":
			return runCheck(args[1:], os.Stdout, os.Stderr)
		case "version":
			return runVersion(args[1:], os.Stdout, os.Stderr)
		}
	}
	return runDaemon(args, os.Stderr)
}
