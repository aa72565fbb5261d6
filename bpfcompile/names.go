package bpfcompile

// Built-in name tables. A distroless image has no /etc/services or
// /etc/protocols, so the common IANA names are compiled in.

// etherProtoNames are the names "ether proto \NAME" accepts (libpcap's
// built-in table, not a system file).
var etherProtoNames = map[string]uint32{
	"aarp": ethertypeAARP, "arp": ethertypeARP, "atalk": ethertypeAtalk, "decnet": ethertypeDN,
	"ip": ethertypeIP, "ip6": ethertypeIPv6, "lat": ethertypeLAT, "lldp": 0x88cc,
	"loopback": 0x9000, "mopdl": ethertypeMOPDL, "moprc": ethertypeMOPRC,
	"rarp": ethertypeRARP, "sca": ethertypeSCA, "slow": 0x8809,
}

// llcNames are the LLC SAP names "ether proto \NAME" accepts.
var llcNames = map[string]uint32{
	"iso": llcsapISONS, "stp": llcsap8021D, "ipx": llcsapIPX, "netbeui": llcsapNetBEUI,
}

// ipProtoNames are IANA protocol numbers by their protocols(5) names.
var ipProtoNames = map[string]int{
	"ip": 0, "hopopt": 0, "icmp": 1, "igmp": 2, "ggp": 3, "ipencap": 4, "ipv4": 4, "st": 5,
	"tcp": 6, "egp": 8, "igp": 9, "pup": 12, "udp": 17, "hmp": 20, "xns-idp": 22,
	"rdp": 27, "iso-tp4": 29, "dccp": 33, "xtp": 36, "ddp": 37, "idpr-cmtp": 38,
	"ipv6": 41, "ipv6-route": 43, "ipv6-frag": 44, "idrp": 45, "rsvp": 46, "gre": 47,
	"esp": 50, "ah": 51, "skip": 57, "ipv6-icmp": 58, "icmp6": 58, "ipv6-nonxt": 59,
	"ipv6-opts": 60, "rspf": 73, "vmtp": 81, "eigrp": 88, "ospf": 89, "ax.25": 93,
	"ipip": 94, "etherip": 97, "encap": 98, "pim": 103, "ipcomp": 108, "vrrp": 112,
	"l2tp": 115, "isis": 124, "sctp": 132, "fc": 133, "mobility-header": 135,
	"udplite": 136, "mpls-in-ip": 137, "manet": 138, "hip": 139, "shim6": 140,
	"wesp": 141, "rohc": 142, "ethernet": 143,
}

// servicePort is one services(5) entry.
type servicePort struct {
	tcp, udp int // -1 when the service has no port for that protocol
}

// serviceNames are common IANA service names with their TCP and UDP ports.
var serviceNames = map[string]servicePort{
	"tcpmux": {1, -1}, "echo": {7, 7}, "discard": {9, 9}, "systat": {11, -1},
	"daytime": {13, 13}, "netstat": {15, -1}, "qotd": {17, -1}, "chargen": {19, 19},
	"ftp-data": {20, -1}, "ftp": {21, -1}, "ssh": {22, -1}, "telnet": {23, -1},
	"smtp": {25, -1}, "time": {37, 37}, "whois": {43, -1}, "tacacs": {49, 49},
	"domain": {53, 53}, "gopher": {70, -1}, "bootps": {-1, 67}, "bootpc": {-1, 68},
	"tftp": {-1, 69}, "finger": {79, -1}, "http": {80, -1}, "www": {80, -1},
	"kerberos": {88, 88}, "iso-tsap": {102, -1}, "acr-nema": {104, -1},
	"pop3": {110, -1}, "sunrpc": {111, 111}, "auth": {113, -1}, "nntp": {119, -1},
	"ntp": {-1, 123}, "epmap": {135, -1}, "netbios-ns": {137, 137},
	"netbios-dgm": {138, 138}, "netbios-ssn": {139, -1}, "imap2": {143, -1},
	"imap": {143, -1}, "snmp": {161, 161}, "snmp-trap": {162, 162},
	"cmip-man": {163, 163}, "cmip-agent": {164, 164}, "mailq": {174, -1},
	"xdmcp": {-1, 177}, "bgp": {179, -1}, "smux": {199, -1}, "qmtp": {209, -1},
	"z3950": {210, -1}, "ipx": {-1, 213}, "ptp-event": {-1, 319},
	"ptp-general": {-1, 320}, "pawserv": {345, -1}, "zserv": {346, -1},
	"rpc2portmap": {369, 369}, "codaauth2": {370, 370}, "clearcase": {-1, 371},
	"ldap": {389, 389}, "svrloc": {427, 427}, "https": {443, 443}, "snpp": {444, -1},
	"microsoft-ds": {445, -1}, "kpasswd": {464, 464}, "submissions": {465, -1},
	"saft": {487, -1}, "isakmp": {-1, 500}, "rtsp": {554, 554}, "nqs": {607, -1},
	"asf-rmcp": {-1, 623}, "qmqp": {628, -1}, "ipp": {631, -1}, "ldp": {646, 646},
	"exec": {512, -1}, "biff": {-1, 512}, "login": {513, -1}, "who": {-1, 513},
	"shell": {514, -1}, "syslog": {-1, 514}, "printer": {515, -1}, "talk": {-1, 517},
	"ntalk": {-1, 518}, "route": {-1, 520}, "gdomap": {538, 538}, "uucp": {540, -1},
	"klogin": {543, -1}, "kshell": {544, -1}, "dhcpv6-client": {-1, 546},
	"dhcpv6-server": {-1, 547}, "afpovertcp": {548, -1}, "nntps": {563, -1},
	"submission": {587, -1}, "ldaps": {636, 636}, "tinc": {655, 655},
	"silc": {706, -1}, "kerberos-adm": {749, -1}, "domain-s": {853, 853},
	"rsync": {873, -1}, "ftps-data": {989, -1}, "ftps": {990, -1},
	"telnets": {992, -1}, "imaps": {993, -1}, "pop3s": {995, -1},
	"socks": {1080, -1}, "proofd": {1093, -1}, "rootd": {1094, -1},
	"openvpn": {1194, 1194}, "rmiregistry": {1099, -1}, "lotusnote": {1352, -1},
	"ms-sql-s": {1433, -1}, "ms-sql-m": {-1, 1434}, "ingreslock": {1524, -1},
	"datametrics": {1645, 1645}, "sa-msg-port": {1646, 1646}, "kermit": {1649, -1},
	"groupwise": {1677, -1}, "l2f": {-1, 1701}, "radius": {1812, 1812},
	"radius-acct": {1813, 1813}, "cisco-sccp": {2000, -1}, "nfs": {2049, 2049},
	"gnunet": {2086, 2086}, "rtcm-sc104": {2101, 2101}, "gsigatekeeper": {2119, -1},
	"gris": {2135, -1}, "cvspserver": {2401, -1}, "venus": {2430, 2430},
	"venus-se": {2431, 2431}, "codasrv": {2432, 2432}, "codasrv-se": {2433, 2433},
	"mon": {2583, 2583}, "dict": {2628, -1}, "f5-globalsite": {2792, -1},
	"gsiftp": {2811, -1}, "gpsd": {2947, -1}, "gds-db": {3050, -1},
	"icpv2": {-1, 3130}, "isns": {3205, 3205}, "iscsi-target": {3260, -1},
	"mysql": {3306, -1}, "ms-wbt-server": {3389, -1}, "nut": {3493, 3493},
	"distcc": {3632, -1}, "daap": {3689, -1}, "svn": {3690, -1},
	"suucp": {4031, -1}, "sysrqd": {4094, -1}, "sieve": {4190, -1},
	"epmd": {4369, -1}, "remctl": {4373, -1}, "f5-iquery": {4353, -1},
	"ntske": {4460, -1}, "ipsec-nat-t": {-1, 4500}, "iax": {-1, 4569},
	"mtn": {4691, -1}, "radmin-port": {4899, -1}, "sip": {5060, 5060},
	"sip-tls": {5061, 5061}, "xmpp-client": {5222, -1}, "xmpp-server": {5269, -1},
	"cfengine": {5308, -1}, "mdns": {-1, 5353}, "postgresql": {5432, -1},
	"freeciv": {5556, -1}, "amqps": {5671, -1}, "amqp": {5672, -1},
	"x11": {6000, -1}, "x11-1": {6001, -1}, "x11-2": {6002, -1},
	"x11-3": {6003, -1}, "x11-4": {6004, -1}, "x11-5": {6005, -1},
	"x11-6": {6006, -1}, "x11-7": {6007, -1}, "gnutella-svc": {6346, 6346},
	"gnutella-rtr": {6347, 6347}, "redis": {6379, -1}, "sge-qmaster": {6444, -1},
	"sge-execd": {6445, -1}, "mysql-proxy": {6446, -1}, "babel": {-1, 6696},
	"ircs-u": {6697, -1}, "bbs": {7000, -1}, "afs3-fileserver": {7000, 7000},
	"afs3-callback": {7001, 7001}, "afs3-prserver": {7002, 7002},
	"afs3-vlserver": {7003, 7003}, "afs3-kaserver": {7004, 7004},
	"afs3-volser": {7005, 7005}, "afs3-bos": {7007, 7007}, "afs3-update": {7008, 7008},
	"afs3-rmtsys": {7009, 7009}, "font-service": {7100, -1}, "http-alt": {8080, -1},
	"puppet": {8140, -1}, "bacula-dir": {9101, -1}, "bacula-fd": {9102, -1},
	"bacula-sd": {9103, -1}, "xmms2": {9667, -1}, "nbd": {10809, -1},
	"zabbix-agent": {10050, -1}, "zabbix-trapper": {10051, -1}, "amanda": {10080, -1},
	"dicom": {11112, -1}, "hkp": {11371, -1}, "db-lsp": {17500, -1},
	"dcap": {22125, -1}, "gsidcap": {22128, -1}, "wnn6": {22273, -1},
	"bgpd": {2605, -1}, "zebra": {2601, -1}, "ripd": {2602, -1}, "ospfd": {2604, -1},
	"kerberos4": {750, 750}, "kerberos-master": {751, 751}, "krb-prop": {754, -1},
	"iprop": {2121, -1}, "webmin": {10000, -1}, "kafka": {9092, -1},
	"memcache": {11211, 11211}, "mongodb": {27017, -1}, "git": {9418, -1},
	"irc": {194, -1}, "ircd": {6667, -1}, "pop2": {109, -1}, "imap3": {220, -1},
	"vxlan": {-1, 4789}, "geneve": {-1, 6081}, "bfd-control": {-1, 3784},
	"bfd-echo": {-1, 3785}, "l2tp": {-1, 1701}, "pptp": {1723, -1},
	"wins": {1512, 1512}, "rdp": {3389, -1}, "vnc": {5900, -1},
	"mqtt": {1883, -1}, "secure-mqtt": {8883, -1}, "coap": {-1, 5683},
	"etcd-client": {2379, -1}, "etcd-server": {2380, -1},
}

// LLC frame subtypes for "llc NAME".
var llcSSubtypes = map[string]uint32{"rr": 0x0001, "rnr": 0x0005, "rej": 0x0009}
var llcUSubtypes = map[string]uint32{
	"ui": 0x03, "ua": 0x63, "disc": 0x43, "dm": 0x0f, "sabme": 0x6f, "test": 0xe3, "xid": 0xaf, "frmr": 0x87,
}
