// Package config loads pcapdaemon's configuration in four layers, each
// overriding the one before: built-in defaults, the TOML file named by
// -config (the seed's format, parsed unchanged, with new keys beside the
// seed's), environment variables PCAPDAEMON_<SECTION>_<KEY>, and the seed's
// command-line flags (only those actually given).
//
// Load then validates the values and reports every problem at once, each
// naming the key and the reason (see KeyError). Unknown keys in the file are
// errors, with the nearest known key suggested, so that a typo such as
// "maxpacket" is never silently ignored. Load reads the -config file and
// nothing else of the host, so any command may load the daemon's file.
//
// What the configuration needs from the host is a separate step,
// CheckHost: the directories exist and are writable, the TLS files can be
// read, the [[interface]] names exist. The daemon runs both at start and on
// SIGHUP (Loader.LoadForHost), creating the default local directory;
// pcapdaemon check runs the same with HostOptions.DryRun, which changes
// nothing. The package opens no socket but netlink's, to list interfaces.
package config
