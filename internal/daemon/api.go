package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/sink/local"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
)

// requests is what the HTTP API asks the agent (*agent.Agent).
type requests interface {
	Lookup(id string) (agent.RequestState, bool)
	Cancel(id string) error
	List(q agent.ListQuery) (agent.ListPage, error)
}

// apiBackend is what the HTTP API serves: the agent's requests (lookup,
// cancel, list) and the local sink's files.
type apiBackend struct {
	ag    func() requests // the agent, made after the API and before it serves
	local *localDir
}

var (
	_ httpapi.Backend = apiBackend{}
	_ httpapi.Lister  = apiBackend{}
	_ httpapi.Filer   = apiBackend{}
)

// Lookup implements httpapi.Backend.
func (b apiBackend) Lookup(id string) (any, bool) { return b.ag().Lookup(id) }

// Cancel implements httpapi.Backend.
func (b apiBackend) Cancel(id string) error { return b.ag().Cancel(id) }

// List implements httpapi.Lister.
func (b apiBackend) List(q agent.ListQuery) (agent.ListPage, error) { return b.ag().List(q) }

// CaptureFile implements httpapi.Filer: the file that request id's Result
// names in the current local sink's directory, opened by that sink (which
// opens nothing else).
func (b apiBackend) CaptureFile(id, iface string) (*httpapi.File, error) {
	st, ok := b.ag().Lookup(id)
	if !ok {
		return nil, fmt.Errorf("%w: %q", agent.ErrUnknownID, id)
	}
	s := b.local.current()
	if s == nil {
		return nil, fmt.Errorf("%w: this agent keeps no local files ([general] writelocal is off)", agent.ErrNoFile)
	}
	lf, err := st.LocalFile(iface, s.Holds)
	if err != nil {
		return nil, err
	}
	f, err := s.Open(lf.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s is no longer in the local directory: removed by retention ([general] localmaxfiles, localmaxbytes, localmaxage) or by hand",
			agent.ErrNoFile, filepath.Base(lf.Path))
	case errors.Is(err, local.ErrNotCapture):
		return nil, fmt.Errorf("%w: %v", agent.ErrNoFile, err)
	case err != nil:
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("local file %s: %w", lf.Path, err)
	}
	return &httpapi.File{Name: filepath.Base(lf.Path), Format: lf.Format, ModTime: fi.ModTime(), Content: f}, nil
}
