package daemon

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/metrics"
	"github.com/pcapdaemon/pcapdaemon/sink/local"
)

// retentionEvery is how often the local directory is pruned besides after
// each delivery: files age out even when nothing is captured.
const retentionEvery = time.Hour

// localDir follows the local sink in use (a reload may replace it, or turn
// it off): the HTTP API serves its files, the metrics measure its
// directory, and its retention runs hourly.
type localDir struct {
	log  *slog.Logger
	cur  atomic.Pointer[local.Sink] // nil: no local sink
	wake chan struct{}              // a new sink: prune it now
}

func newLocalDir(log *slog.Logger) *localDir {
	return &localDir{log: log, wake: make(chan struct{}, 1)}
}

// set puts s in use (nil: no local sink) and has it pruned at once, as its
// bounds may be new.
func (l *localDir) set(s *local.Sink) {
	l.cur.Store(s)
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// current returns the local sink in use, nil when there is none.
func (l *localDir) current() *local.Sink { return l.cur.Load() }

// Run prunes the current sink's directory at start, hourly and whenever
// the sink is replaced, until ctx ends. It returns nil.
func (l *localDir) Run(ctx context.Context) error {
	t := time.NewTicker(retentionEvery)
	defer t.Stop()
	for {
		if s := l.current(); s != nil && s.Retention() != (local.Retention{}) {
			left, removed, err := s.Prune()
			if err != nil {
				l.log.Error("local retention failed", "dir", s.Dir(), "error", err)
			}
			if len(removed) > 0 {
				l.log.Info("local retention", "dir", s.Dir(), "removed", len(removed), "files", left.Files, "bytes", left.Bytes)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-l.wake:
		}
	}
}

// state is what the directory holds now, for the metrics.
func (l *localDir) state() (metrics.LocalState, error) {
	s := l.current()
	if s == nil {
		return metrics.LocalState{}, nil
	}
	u, err := s.Usage()
	if err != nil {
		l.log.Warn("cannot measure the local directory", "dir", s.Dir(), "error", err)
		return metrics.LocalState{}, err
	}
	return metrics.LocalState{Files: u.Files, Bytes: u.Bytes}, nil
}

// indexDir is the index's directory: in the spool directory when there is
// one, else in the local directory (hidden: the local sink's files never
// start with a dot); "" when there is neither, and the index lives only in
// memory.
func indexDir(g config.General) string {
	switch {
	case g.SpoolDir != "":
		return filepath.Join(g.SpoolDir, "index")
	case g.WriteLocal && g.LocalDir != "":
		return filepath.Join(g.LocalDir, ".pcapdaemon-index")
	}
	return ""
}

// openIndex opens the index of finished requests for g (nil when there is
// no directory for it). Like the journal, it stays where it was opened: a
// reload that moves the directories moves it at the next start.
func openIndex(g config.General, log *slog.Logger) (*agent.FileIndex, error) {
	dir := indexDir(g)
	if dir == "" {
		return nil, nil
	}
	return agent.OpenIndex(dir, 0, 0, log)
}
