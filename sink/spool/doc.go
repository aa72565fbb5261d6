// Package spool keeps a capture that no sink could take, and delivers it
// later.
//
// A Spool wraps the configured sinks and is itself an agent.Sink. Deliver
// hands the capture to every sink (each retries transient failures itself,
// see internal/retry). When a sink still fails and a spool directory is
// configured, the capture is written there (file, then a JSON description
// naming the sinks still owed the file; both written to a temporary name,
// synced and renamed, then the directory synced, so a crash never leaves
// half an entry nor loses one the caller was told is kept) and Run
// delivers it again later, with a growing interval, until every pending
// sink has it or Config.MaxAge passes. Without a spool directory, a capture
// that no sink took is reported as a *LostError that says exactly what was
// lost and why.
//
// Two ways to use it: as the only sink (Spool.Deliver does the fan-out to
// every sink and spools what failed), or, when the agent does the fan-out
// itself, as its fallback (agent.WithSpool(spool.Keeper())): Keeper only
// writes the capture into the spool, owed to every sink. Either way, Run
// must be running to deliver spooled captures.
//
// Config.MaxBytes caps the directory: a capture that would pass the cap
// displaces the oldest spooled captures, each logged as an error and
// reported to Config.OnDropped. Config.OnDelivered hears of every retry
// round that delivered a spooled capture (a Delivery), so that whoever
// published its result can publish where it is now.
//
// The spool is read back without loading files whole: a spooled capture is
// an *os.File section (io.ReaderAt), like the in-memory buffer it came from.
package spool
