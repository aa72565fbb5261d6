package httpapi

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// Lister is a Backend that lists requests (GET /v1/captures); without it
// the route answers 404. *agent.Agent's List is one.
type Lister interface {
	List(q agent.ListQuery) (agent.ListPage, error)
}

// Filer is a Backend that serves the local files of captures (GET
// /v1/captures/{id}/file); without it the route answers 404.
type Filer interface {
	// CaptureFile opens the local file of request id's capture on iface
	// ("" for the request's only one). An error matching
	// agent.ErrUnknownID or agent.ErrNoFile (or fs.ErrNotExist: the file
	// is gone) answers 404 with its text as the reason, agent.ErrBadQuery
	// 400.
	CaptureFile(id, iface string) (*File, error)
}

// File is a capture file to send.
type File struct {
	Name    string // the download's file name
	Format  string // agent.FormatPcap or agent.FormatPcapNG
	ModTime time.Time
	// Content is read from (with Seek for Range requests) and closed
	// once the answer is sent.
	Content io.ReadSeekCloser
}

// The content types of capture files.
const (
	ContentTypePcap   = "application/vnd.tcpdump.pcap"
	ContentTypePcapNG = "application/x-pcapng"
)

// progressTimeout is how long one write of a file download may take: a
// download lasts as long as it makes progress (the server's WriteTimeout
// would cut a large file short on a slow link), and a client that stops
// reading is dropped.
const progressTimeout = 30 * time.Second

// list answers GET /v1/captures[?state=running|done][&limit=N][&cursor=C].
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	l, ok := s.be.(Lister)
	if !ok {
		writeError(w, http.StatusNotFound, "listing captures is not supported")
		return
	}
	qs := r.URL.Query()
	q := agent.ListQuery{State: qs.Get("state"), Cursor: qs.Get("cursor")}
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > agent.MaxListLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %.40q: must be a whole number, 1 to %d", v, agent.MaxListLimit))
			return
		}
		q.Limit = n
	}
	page, err := l.List(q)
	if err != nil {
		writeError(w, errorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// file answers GET /v1/captures/{id}/file[?interface=X]: the capture's
// local file, as an attachment, with Range support.
func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	fl, ok := s.be.(Filer)
	if !ok {
		writeError(w, http.StatusNotFound, "serving capture files is not supported")
		return
	}
	id := r.PathValue("id")
	f, err := fl.CaptureFile(id, r.URL.Query().Get("interface"))
	if errors.Is(err, agent.ErrUnknownID) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no capture request with id %q", id))
		return
	}
	if err != nil {
		writeError(w, errorStatus(err), err.Error())
		return
	}
	defer f.Content.Close()
	ct := ContentTypePcap
	if f.Format == agent.FormatPcapNG {
		ct = ContentTypePcapNG
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	// The request is read; the answer may take longer than ReadTimeout.
	_ = rc.SetReadDeadline(time.Time{})
	http.ServeContent(&progressWriter{ResponseWriter: w, rc: rc}, r, f.Name, f.ModTime, f.Content)
}

// progressWriter gives every write its own deadline (progressTimeout).
type progressWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (p *progressWriter) Write(b []byte) (int, error) {
	_ = p.rc.SetWriteDeadline(time.Now().Add(progressTimeout))
	return p.ResponseWriter.Write(b)
}

// errorStatus maps an error of a Lister or Filer to an HTTP status.
func errorStatus(err error) int {
	switch {
	case errors.Is(err, agent.ErrBadQuery):
		return http.StatusBadRequest
	case errors.Is(err, agent.ErrUnknownID), errors.Is(err, agent.ErrNoFile), errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}
