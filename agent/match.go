package agent

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// MatchNode reports whether a request naming node (exact name, or "any")
// or nodeRE (a regular expression, unanchored as in the seed: anchor it with
// ^ and $ to match whole names) is meant for host. Host names compare
// without regard to case.
func MatchNode(host, node string, nodeRE *regexp.Regexp) bool {
	if nodeRE != nil {
		return nodeRE.MatchString(host)
	}
	return node == "any" || strings.EqualFold(node, host)
}

// target is one interface a request captures on, with the alias that chose
// it (empty when the request named the interface).
type target struct {
	iface string
	alias string
}

// expandTargets turns a request's interface or alias list into the
// interfaces to capture on, each once, in the order first named. An alias
// that the configuration does not define is an error.
func expandTargets(r *Request, aliases map[string][]string) ([]target, error) {
	var out []target
	seen := make(map[string]bool)
	add := func(iface, alias string) {
		if !seen[iface] {
			seen[iface] = true
			out = append(out, target{iface: iface, alias: alias})
		}
	}
	for _, name := range r.Interface {
		add(name, "")
	}
	for i, a := range r.Alias {
		ifaces, ok := aliases[a]
		if !ok {
			return nil, invalid(fieldAt("alias", i), "unknown alias %q", a)
		}
		if len(ifaces) == 0 {
			return nil, invalid(fieldAt("alias", i), "alias %q names no interface", a)
		}
		for _, name := range ifaces {
			add(name, a)
		}
	}
	return out, nil
}

func fieldAt(name string, i int) string {
	return name + "[" + strconv.Itoa(i) + "]"
}

// mayBeForNode reports whether a message that failed to decode could be
// meant for host: it is only known not to be when it is a JSON object whose
// node or nodere strings (the ones present) all fail to match host.
func mayBeForNode(msg []byte, host string) bool {
	if len(msg) > MaxMessageSize {
		return true
	}
	var m struct {
		Node   any `json:"node"`
		NodeRE any `json:"nodere"`
	}
	if json.Unmarshal(msg, &m) != nil {
		return true
	}
	node, okNode := m.Node.(string)
	nodeRE, okRE := m.NodeRE.(string)
	if (m.Node != nil && !okNode) || (m.NodeRE != nil && !okRE) || (!okNode && !okRE) {
		return true // cannot tell
	}
	if okNode && MatchNode(host, node, nil) {
		return true
	}
	if okRE {
		if len(nodeRE) > maxNodeRELen {
			return true
		}
		re, err := regexp.Compile(nodeRE)
		if err != nil || re.MatchString(host) {
			return true
		}
	}
	return false
}
