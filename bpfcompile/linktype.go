package bpfcompile

import (
	"errors"
	"strconv"
)

// LinkType is a pcap link-layer header type, as stored in a pcap file header
// (the LINKTYPE_* numbers of the tcpdump.org registry).
type LinkType uint32

// Link types the package names: the ones a Linux capture has, and the
// ones the generator switches to inside an encapsulation. Compile takes
// every link type libpcap knows (see LinkTypeByName), not only these.
const (
	LinkTypeNull      LinkType = 0   // DLT_NULL: BSD loopback, host-order address family
	LinkTypeEthernet  LinkType = 1   // DLT_EN10MB
	LinkTypeRaw       LinkType = 101 // DLT_RAW (12 on Linux in libpcap's headers)
	LinkTypeLoop      LinkType = 108 // DLT_LOOP: network-order address family
	LinkTypeLinuxSLL  LinkType = 113 // DLT_LINUX_SLL
	LinkTypeIPv4      LinkType = 228 // DLT_IPV4
	LinkTypeIPv6      LinkType = 229 // DLT_IPV6
	LinkTypeLinuxSLL2 LinkType = 276 // DLT_LINUX_SLL2

	// LinkTypePPP is what "pppoes" makes the current link layer, and
	// LinkTypeSunATM the one "lane" encapsulates Ethernet in.
	LinkTypePPP    LinkType = 9   // DLT_PPP
	LinkTypeSunATM LinkType = 123 // DLT_SUNATM
)

// ErrUnknownLinkType is wrapped by the error Compile returns for a link
// type libpcap does not know ("unknown data link type").
var ErrUnknownLinkType = errors.New("unknown data link type")

// LinkTypeByName returns the link type libpcap names name, compared without
// regard to ASCII case, as pcap_datalink_name_to_val does ("en10mb" is
// LinkTypeEthernet). The name has no "DLT_" prefix.
func LinkTypeByName(name string) (LinkType, bool) {
	for _, t := range linkTypes {
		if equalFoldASCII(t.name, name) {
			return t.lt, true
		}
	}
	return 0, false
}

// Name returns libpcap's name of lt without the "DLT_" prefix, as
// pcap_datalink_val_to_name returns it ("EN10MB"), or "" for a link type
// libpcap's table does not have.
func (lt LinkType) Name() string {
	if i := lt.index(); i >= 0 {
		return linkTypes[i].name
	}
	return ""
}

// Description returns libpcap's description of lt, which tcpdump prints
// after the name ("Ethernet" in "link-type EN10MB (Ethernet)"), or "" for
// a link type libpcap's table does not have.
func (lt LinkType) Description() string {
	if i := lt.index(); i >= 0 {
		return linkTypes[i].description
	}
	return ""
}

// String returns lt's name, or its number in decimal for a link type
// libpcap's table does not have (tcpdump prints "link-type 147" then).
func (lt LinkType) String() string {
	if n := lt.Name(); n != "" {
		return n
	}
	return strconv.FormatUint(uint64(lt), 10)
}

// index returns the position of lt in linkTypes, or -1.
func (lt LinkType) index() int {
	for i, t := range linkTypes {
		if t.lt == lt {
			return i
		}
	}
	return -1
}

// equalFoldASCII reports whether a and b are equal without regard to the
// case of ASCII letters (libpcap's pcapint_strcasecmp; strings.EqualFold
// would also fold Unicode, matching "\u212a" to "K").
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
