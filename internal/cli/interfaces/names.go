package interfaces

import (
	"strconv"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// linkTypeName returns tcpdump's name (pcap_datalink_val_to_name without
// "DLT_") of the link type dlt.
func linkTypeName(dlt uint32) string {
	if n := bpfcompile.LinkType(dlt).Name(); n != "" {
		return n
	}
	return "DLT" + strconv.FormatUint(uint64(dlt), 10)
}

// arphrdName returns the ARPHRD_* name (<linux/if_arp.h>, without the
// prefix) of the types a host is likely to have, t in decimal for others,
// or "" for an unknown type (-1).
func arphrdName(t int) string {
	switch t {
	case -1:
		return ""
	case 1:
		return "ETHER"
	case 19:
		return "ATM"
	case 24:
		return "IEEE1394"
	case 32:
		return "INFINIBAND"
	case 256:
		return "SLIP"
	case 280:
		return "CAN"
	case 290:
		return "MCTP"
	case 512:
		return "PPP"
	case 513:
		return "CISCO"
	case 519:
		return "RAWIP"
	case 768:
		return "TUNNEL"
	case 769:
		return "TUNNEL6"
	case 772:
		return "LOOPBACK"
	case 774:
		return "FDDI"
	case 776:
		return "SIT"
	case 778:
		return "IPGRE"
	case 801:
		return "IEEE80211"
	case 803:
		return "IEEE80211_RADIOTAP"
	case 804:
		return "IEEE802154"
	case 823:
		return "IP6GRE"
	case 824:
		return "NETLINK"
	case 825:
		return "6LOWPAN"
	case 826:
		return "VSOCKMON"
	case 0xfffe:
		return "NONE"
	case 0xffff:
		return "VOID"
	}
	return strconv.Itoa(t)
}
