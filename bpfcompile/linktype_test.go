package bpfcompile

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/conformance"
)

// TestLinkTypeNames checks names, descriptions and lookups: what tcpdump
// prints for the link types a Linux capture produces, the names -y takes
// in any case, and what is not in libpcap's table.
func TestLinkTypeNames(t *testing.T) {
	tests := []struct {
		lt         LinkType
		name, desc string
		str        string
	}{
		{LinkTypeNull, "NULL", "BSD loopback", "NULL"},
		{LinkTypeEthernet, "EN10MB", "Ethernet", "EN10MB"},
		{LinkTypeRaw, "RAW", "Raw IP", "RAW"},
		{LinkTypeLoop, "LOOP", "OpenBSD loopback", "LOOP"},
		{LinkTypeLinuxSLL, "LINUX_SLL", "Linux cooked v1", "LINUX_SLL"},
		{LinkTypeIPv4, "IPV4", "Raw IPv4", "IPV4"},
		{LinkTypeIPv6, "IPV6", "Raw IPv6", "IPV6"},
		{LinkTypeLinuxSLL2, "LINUX_SLL2", "Linux cooked v2", "LINUX_SLL2"},
		{9, "PPP", "PPP", "PPP"},
		{105, "IEEE802_11", "802.11", "IEEE802_11"},
		{127, "IEEE802_11_RADIO", "802.11 plus radiotap header", "IEEE802_11_RADIO"},
		{246, "PFSYNC", "Packet filter state syncing", "PFSYNC"},
		{209, "I2C_LINUX", "I2C with Linux/Pigeon Point pseudo-header", "I2C_LINUX"},
		{304, "DECT_NR_TAP", "DECT-2020 New Radio TAP", "DECT_NR_TAP"},
		{12, "", "", "12"},   // DLT_RAW's number on Linux, not a LINKTYPE_
		{147, "", "", "147"}, // USER0: private use
		{1000, "", "", "1000"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(uint32(tt.lt)), func(t *testing.T) {
			if got := tt.lt.Name(); got != tt.name {
				t.Errorf("Name() = %q, want %q", got, tt.name)
			}
			if got := tt.lt.Description(); got != tt.desc {
				t.Errorf("Description() = %q, want %q", got, tt.desc)
			}
			if got := tt.lt.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if tt.name == "" {
				return
			}
			if got, ok := LinkTypeByName(tt.name); !ok || got != tt.lt {
				t.Errorf("LinkTypeByName(%q) = %d, %v; want %d", tt.name, got, ok, tt.lt)
			}
		})
	}
}

func TestLinkTypeByName(t *testing.T) {
	tests := []struct {
		name string
		want LinkType
		ok   bool
	}{
		{"EN10MB", LinkTypeEthernet, true},
		{"en10mb", LinkTypeEthernet, true},
		{"Linux_Sll2", LinkTypeLinuxSLL2, true},
		{"raw", LinkTypeRaw, true},
		{"ieee802_11_radio", 127, true},
		{"DLT_EN10MB", 0, false}, // the prefix is the caller's to strip
		{"FDDI0", 0, false},
		{"USER0", 0, false},
		{"", 0, false},
		{"AX25_\u212aISS", 0, false}, // KELVIN SIGN: libpcap folds ASCII only
	}
	for _, tt := range tests {
		got, ok := LinkTypeByName(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("LinkTypeByName(%q) = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// TestLinkTypeTable checks the table itself: one entry per name (in any
// case) and per number, and every name back to its number.
func TestLinkTypeTable(t *testing.T) {
	byName := map[string]LinkType{}
	byNum := map[LinkType]string{}
	for _, e := range linkTypes {
		if e.name == "" || e.description == "" {
			t.Errorf("%d: empty name or description", e.lt)
		}
		if prev, dup := byNum[e.lt]; dup {
			t.Errorf("%d: %s and %s", e.lt, prev, e.name)
		}
		byNum[e.lt] = e.name
		if got, ok := LinkTypeByName(e.name); !ok || got != e.lt {
			t.Errorf("LinkTypeByName(%q) = %d, %v; want %d", e.name, got, ok, e.lt)
		}
		for n := range byName {
			if equalFoldASCII(n, e.name) {
				t.Errorf("%q twice", e.name)
			}
		}
		byName[e.name] = e.lt
	}
}

// TestLinkTypeCorpusNames checks that every link type libpcap's filter
// tests name (testdata/conformance) is in the table: "-y NAME" knows it.
func TestLinkTypeCorpusNames(t *testing.T) {
	b, err := conformance.ReadTests()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, section := range []string{"accept", "apply", "reject"} {
		var entries []struct {
			DLT *string `json:"DLT"`
		}
		if err := json.Unmarshal(doc[section], &entries); err != nil {
			t.Fatalf("%s: %v", section, err)
		}
		for _, e := range entries {
			if e.DLT != nil {
				names[*e.DLT] = true
			}
		}
	}
	if len(names) < 100 {
		t.Fatalf("only %d link type names in the corpus: is it the right file?", len(names))
	}
	for n := range names {
		if _, ok := LinkTypeByName(n); !ok {
			t.Errorf("the corpus names link type %q, the table does not", n)
		}
	}
	t.Logf("%d link type names in the corpus, %d in the table", len(names), len(linkTypes))
}

// TestCompileLinkTypes checks that Compile takes every link type libpcap
// knows, as libpcap does: those of its table, and the numbers of its
// ranges that have no name (USER0..USER15), where only the link header's
// bytes can be tested; a number libpcap does not know is refused with
// its "unknown data link type".
func TestCompileLinkTypes(t *testing.T) {
	for _, e := range linkTypes {
		for _, expr := range []string{"", "link[0] = 1", "len > 60"} {
			if _, err := Compile(expr, Options{LinkType: e.lt}); err != nil {
				t.Errorf("%s: %q: %v", e.name, expr, err)
			}
		}
	}
	tests := []struct {
		lt      LinkType
		expr    string
		wantErr string
		unknown bool
	}{
		{147, "link[0] = 1", "", false}, // USER0
		{147, "ip", "link-layer type filtering not implemented for DLT 147", false},
		{189, "ip", "link-layer type filtering not implemented for DLT_USB_LINUX", false},
		{189, "vlan", "'vlan' not supported on DLT_USB_LINUX", false},
		{32, "link[0] = 1", "", false},              // REDBACK_SMARTEDGE, outside the ranges
		{12, "", "unknown data link type 12", true}, // DLT_RAW's Linux number is not a LINKTYPE_
		{1000, "", "unknown data link type 1000", true},
		// A syntax error comes before the link type's error, and an
		// error in the primitives before it needs a known link type.
		{1000, "tcp port", "can't parse filter expression: syntax error: unexpected end of expression", false},
		{1000, "port 99999 and", "can't parse filter expression: syntax error: unexpected end of expression", false},
		{1, "port 99999 and", "port number 99999 greater than maximum 65535", false},
		{1000, "port 99999", "unknown data link type 1000", true},
	}
	for _, tt := range tests {
		_, err := Compile(tt.expr, Options{LinkType: tt.lt})
		var e *Error
		switch {
		case tt.wantErr == "":
			if err != nil {
				t.Errorf("link type %d, %q: %v", tt.lt, tt.expr, err)
			}
		case !errors.As(err, &e) || e.Msg != tt.wantErr:
			t.Errorf("link type %d, %q: %v; want %q", tt.lt, tt.expr, err, tt.wantErr)
		case errors.Is(err, ErrUnknownLinkType) != tt.unknown:
			t.Errorf("link type %d, %q: errors.Is(err, ErrUnknownLinkType) = %v", tt.lt, tt.expr, !tt.unknown)
		}
	}
}
