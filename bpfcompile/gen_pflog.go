package bpfcompile

import "github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"

// OpenBSD pflog: the header pf(4) logs packets with (struct pfloghdr):
// the interface, ruleset, rule numbers, action and reason.

// pfReasons and pfActions are the names "reason" and "action" take, as
// libpcap knows them on Linux.
var (
	pfReasons = []namedValue{
		{"match", 0}, {"bad-offset", 1}, {"fragment", 2}, {"short", 3}, {"normalize", 4},
		{"memory", 5}, {"bad-timestamp", 6}, {"congestion", 7}, {"ip-option", 8},
		{"proto-cksum", 9}, {"state-mismatch", 10}, {"state-insert", 11},
		{"state-limit", 12}, {"src-limit", 13}, {"synproxy", 14},
	}
	pfActions = []namedValue{
		{"pass", 0}, {"accept", 0}, {"drop", 1}, {"block", 1}, {"scrub", 2}, {"noscrub", 3},
		{"nat", 4}, {"nonat", 5}, {"binat", 6}, {"nobinat", 7}, {"rdr", 8}, {"nordr", 9},
		{"synproxy-drop", 10},
	}
)

func (g *gen) assertPFLOG(kw string) {
	if !g.ll.pflog {
		g.errorf("'%s' supported only on PFLOG linktype", kw)
	}
}

// pfName tests a NUL-padded name field of the header.
func (g *gen) pfName(kw, what string, off uint32, name string) *frag {
	g.assertPFLOG(kw)
	if len(name) >= pflogNameLen {
		g.errorf("%s can only be %d characters", what, pflogNameLen-1)
	}
	return g.bcmp(orLinkHdr, off, []byte(name))
}

// pfKeyword generates the pflog keywords.
func (g *gen) pfKeyword(n *OtherNode) *frag {
	switch n.Kind {
	case "on", "ifname":
		return g.pfName("ifname", "ifname interface names", pflogIfname, n.Name)
	case "rset", "ruleset":
		return g.pfName("ruleset", "ruleset names", pflogRuleset, n.Name)
	case "rnr", "rulenum":
		g.assertPFLOG("rnr")
		return g.cmp(orLinkHdr, pflogRulenr, cbpf.W, n.Num)
	case "srnr", "subrulenum":
		g.assertPFLOG("srnr")
		return g.cmp(orLinkHdr, pflogSubrulenr, cbpf.W, n.Num)
	case "reason":
		v, ok := nameNumber(n.Name)
		if !ok {
			if v, ok = lookupName(pfReasons, n.Name); !ok {
				g.errorf("unknown PF reason \"%s\"", n.Name)
			}
		}
		g.assertPFLOG("reason")
		return g.cmp(orLinkHdr, pflogReason, cbpf.B, v)
	case "action":
		v, ok := lookupName(pfActions, n.Name)
		if !ok {
			g.errorf("unknown PF action \"%s\"", n.Name)
		}
		g.assertPFLOG("action")
		return g.cmp(orLinkHdr, pflogAction, cbpf.B, v)
	}
	g.errorf("internal error: pflog keyword %q", n.Kind)
	return nil
}
