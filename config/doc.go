// Package config loads pcapdaemon's configuration in four layers, each
// overriding the one before: built-in defaults, the TOML file named by
// -config (the seed's format, parsed unchanged, with new keys beside the
// seed's), environment variables PCAPDAEMON_<SECTION>_<KEY>, and the seed's
// command-line flags (only those actually given).
//
// Load then validates the result and reports every problem at once, each
// naming the key and the reason (see KeyError). Unknown keys in the file are
// errors, with the nearest known key suggested, so that a typo such as
// "maxpacket" is never silently ignored.
//
// The package reads files and lists the host's interfaces for validation; it
// opens no other sockets.
package config
