// Package check is the logic of "pcapdaemon check": the daemon's
// configuration step as a dry run, like nginx -t or promtool check config.
// Its command line is the daemon's (config.Loader parses it).
package check
