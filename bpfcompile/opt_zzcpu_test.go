package bpfcompile

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func zzCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// temporary: CPU time per compile, robust to machine load.
func TestZZCPU(t *testing.T) {
	if os.Getenv("ZZCPU") == "" {
		t.Skip()
	}
	runtime.GOMAXPROCS(1)
	typical := []string{
		"tcp port 443 and host 198.18.0.7",
		"vlan 20 and (icmp or ip6[40] == 128)",
		"udp and (port 53 or port 123) and not net 10.0.0.0/8",
		"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not src net 198.18.0.0/15",
		"host 198.18.0.1 or 198.18.0.2 or 198.18.0.3",
	}
	run := func(name string, exprs []string, noOpt bool) {
		n := 0
		runtime.GC()
		start := zzCPU()
		for zzCPU()-start < 300*time.Millisecond || n < 3 {
			for _, e := range exprs {
				if _, err := Compile(e, Options{LinkType: LinkTypeEthernet, NoOptimize: noOpt}); err != nil {
					t.Fatal(err)
				}
			}
			n++
		}
		t.Logf("%-22s noopt=%-5v %12v cpu/op", name, noOpt, (zzCPU()-start)/time.Duration(n))
	}
	run("typical5", typical, true)
	run("typical5", typical, false)
	for _, e := range optLongExprs() {
		run(e.name, []string{e.expr}, true)
		run(e.name, []string{e.expr}, false)
	}
}
