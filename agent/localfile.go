package agent

import (
	"fmt"
	"slices"
	"strings"
)

// LocalFile is a capture file in the local directory, as a request's
// Result names it.
type LocalFile struct {
	Path      string // the Result's location: where the local sink wrote it
	Interface string // the Result's interface
	Format    string // FormatPcap or FormatPcapNG, from the file name
}

// LocalFile returns the file in the local directory that st's Results name
// for the capture on iface, or for the request's only local file when
// iface is "". isLocal reports whether a location is a file the local sink
// wrote (the caller's sink knows its directory); nothing else is ever
// returned, so a caller serves no path but the ones its own sink made.
//
// When there is no such file the error matches ErrNoFile and says why:
// the capture is still running, caught nothing, was rejected, failed, or
// was delivered elsewhere only. A request with local files for several
// interfaces and iface "" returns an error matching ErrBadQuery that names
// them.
func (st *RequestState) LocalFile(iface string, isLocal func(loc string) bool) (LocalFile, error) {
	var found []LocalFile
	var why []string
	matched := false
	for _, res := range st.Results {
		if iface != "" && res.Interface != iface {
			continue
		}
		matched = true
		i := slices.IndexFunc(res.Locations, isLocal)
		if i < 0 {
			why = append(why, noFileReason(&res))
			continue
		}
		if !slices.ContainsFunc(found, func(f LocalFile) bool { return f.Path == res.Locations[i] }) {
			found = append(found, LocalFile{Path: res.Locations[i], Interface: res.Interface, Format: formatOf(res.Locations[i])})
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		names := make([]string, len(found))
		for i, f := range found {
			names[i] = f.Interface
		}
		return LocalFile{}, fmt.Errorf("%w: request %q has local files for the interfaces %s: name one with ?interface=",
			ErrBadQuery, st.ID, strings.Join(names, ", "))
	}
	if !matched {
		switch {
		case iface != "" && !slices.Contains(st.Interfaces, iface):
			return LocalFile{}, fmt.Errorf("%w: request %q has no capture on interface %.64q (its interfaces: %s)",
				ErrNoFile, st.ID, iface, strings.Join(st.Interfaces, ", "))
		case st.Phase != PhaseDone:
			return LocalFile{}, fmt.Errorf("%w: the capture of request %q is still %s: its file is written when it ends",
				ErrNoFile, st.ID, st.Phase)
		}
		return LocalFile{}, fmt.Errorf("%w: request %q has no result", ErrNoFile, st.ID)
	}
	return LocalFile{}, fmt.Errorf("%w: request %q: %s", ErrNoFile, st.ID, strings.Join(why, "; "))
}

// noFileReason says why res names no local file.
func noFileReason(res *Result) string {
	on := ""
	if res.Interface != "" {
		on = " on " + res.Interface
	}
	switch {
	case res.Status == StatusRejected:
		return "the request was rejected (" + res.Error + "): nothing was captured"
	case res.Status == StatusEmpty:
		return "nothing was captured" + on + " (status empty): no file was written"
	case len(res.Locations) == 0:
		return "the capture" + on + " was not delivered: " + res.Error
	}
	return "the capture" + on + " was not kept in the local directory; it went to " + strings.Join(res.Locations, ", ")
}

// formatOf tells the format of a capture file by its name.
func formatOf(path string) string {
	if strings.HasSuffix(path, ".pcapng") {
		return FormatPcapNG
	}
	return FormatPcap
}
