package fromconfig

import (
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/logging"
)

// Syslog maps [syslog] onto the logger's options; localPaths are the
// local syslog sockets to try (nil: the usual ones).
func Syslog(s config.Syslog, localPaths []string) logging.Options {
	return logging.Options{
		Priority: s.Priority, Tag: s.Tag, Network: s.Network, Address: s.Address,
		LocalPaths: localPaths,
	}
}
