package interfaces

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints list as aligned columns, "-" for nothing and
// "?" for what could not be found out; problems follow the table.
func WriteTable(w io.Writer, list []Info) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tNAME\tLINKTYPE\tARPHRD\tFLAGS\tADDRESSES\tALIASES\tLOOKBACK")
	var notes []string
	for _, in := range list {
		lt, arp := in.LinkType, in.ARPHRDName
		if lt == "" {
			lt = "?"
		}
		if in.ARPHRD < 0 {
			arp = "?"
		} else if arp != strconv.Itoa(in.ARPHRD) {
			arp = fmt.Sprintf("%s(%d)", arp, in.ARPHRD)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Index, in.Name, lt, arp,
			orDash(in.Flags), orDash(in.Addresses), orDash(in.Aliases), lookbackColumn(in.Lookback))
		if in.Error != "" {
			notes = append(notes, in.Name+": "+in.Error)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		if _, err := fmt.Fprintln(w, n); err != nil {
			return err
		}
	}
	return nil
}

func orDash(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ",")
}

// WriteJSON prints list as an indented JSON array.
func WriteJSON(w io.Writer, list []Info) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(list)
}
