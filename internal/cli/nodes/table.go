package nodes

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pcapdaemon/pcapdaemon/transport/redis"
)

// maxIfaceNames is how many interfaces a row names before "+N more": a
// Kubernetes node has one per pod.
const maxIfaceNames = 6

// writeTable prints one row per agent: its name, version, interfaces
// (those with aliases first), running requests and when it was last
// seen; unreadable records follow the table.
func writeTable(w io.Writer, nodes []redis.Node, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tVERSION\tINTERFACES\tRUNNING\tLAST SEEN")
	var notes []string
	for _, n := range nodes {
		if n.Err != nil {
			notes = append(notes, fmt.Sprintf("%s: %v", n.Key, n.Err))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Node, orDash(n.Version), interfaces(n), running(n), lastSeen(n.LastSeen, now))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range notes {
		if _, err := fmt.Fprintln(w, s); err != nil {
			return err
		}
	}
	return nil
}

// interfaces names n's interfaces, "eth0(main,public)" for one with
// aliases, those first; an interface an alias names and the host lacks is
// marked "!".
func interfaces(n redis.Node) string {
	var named, plain []string
	for _, in := range n.Interfaces {
		s := in.Name
		if in.Absent {
			s += "!"
		}
		if len(in.Aliases) > 0 {
			named = append(named, s+"("+strings.Join(in.Aliases, ",")+")")
		} else {
			plain = append(plain, s)
		}
	}
	all := append(named, plain...)
	if len(all) > maxIfaceNames {
		all = append(all[:maxIfaceNames], "+"+strconv.Itoa(len(all)-maxIfaceNames)+" more")
	}
	return orDash(strings.Join(all, " "))
}

// running is the number of running requests, with their ids when few.
func running(n redis.Node) string {
	if len(n.Running) == 0 {
		return "0"
	}
	ids := make([]string, 0, len(n.Running))
	for _, r := range n.Running {
		ids = append(ids, r.ID)
	}
	if len(ids) > 2 {
		return strconv.Itoa(len(ids))
	}
	return strconv.Itoa(len(ids)) + " (" + strings.Join(ids, ",") + ")"
}

// lastSeen says how long ago t was, in whole seconds.
func lastSeen(t, now time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return max(0, now.Sub(t)).Round(time.Second).String() + " ago"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
