package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// The page reads the captures through the API's own routes, in process,
// with the caller's credentials: the server-rendered page and the script's
// refreshes then show what GET /v1/captures and GET /v1/captures/{id}
// answer, whichever part of the daemon serves them, and an endpoint this
// build does not have (no route) hides its part of the page instead of
// breaking it.

// maxSubResponse bounds what one in-process request may answer.
const maxSubResponse = 4 << 20

// apiGet runs GET path through the API's routes with r's credentials. ok is
// false when no route serves path.
func (s *Server) apiGet(r *http.Request, path string) (code int, body []byte, ok bool) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, path, nil)
	if err != nil {
		return 0, nil, false
	}
	req.Host, req.RemoteAddr = r.Host, r.RemoteAddr
	if a := r.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	if _, pattern := s.mux.Handler(req); pattern == "" {
		return 0, nil, false
	}
	rec := &recorder{header: make(http.Header), code: http.StatusOK}
	s.mux.ServeHTTP(rec, req)
	return rec.code, rec.body.Bytes(), true
}

// hasRoute reports whether the API has a route for method and path.
func (s *Server) hasRoute(method, path string) bool {
	req, err := http.NewRequest(method, path, nil)
	if err != nil {
		return false
	}
	_, pattern := s.mux.Handler(req)
	return pattern != ""
}

// recorder is the http.ResponseWriter of an in-process request.
type recorder struct {
	header http.Header
	code   int
	wrote  bool
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	w.wrote = true
	if w.body.Len()+len(p) > maxSubResponse {
		return 0, fmt.Errorf("httpapi: in-process answer larger than %d bytes", maxSubResponse)
	}
	return w.body.Write(p)
}

// captureJSON is a request's state as GET /v1/captures/{id} and the list
// give it. Fields the API may not have yet are read when present.
type captureJSON struct {
	ID         string          `json:"id"`
	State      string          `json:"state"`
	Source     string          `json:"source"`
	Submitted  time.Time       `json:"submitted"`
	Interfaces []string        `json:"interfaces"`
	Results    []resultJSON    `json:"results"`
	Live       json.RawMessage `json:"live"`
	BPF        string          `json:"bpf"`
}

// resultJSON is one Result, with the request fields it echoes.
type resultJSON struct {
	Node        string          `json:"node"`
	Interface   string          `json:"interface"`
	Status      string          `json:"status"`
	StopReason  string          `json:"stop_reason"`
	Packets     uint64          `json:"packets"`
	Bytes       uint64          `json:"bytes"`
	KernelDrops uint64          `json:"kernel_drops"`
	Started     time.Time       `json:"started"`
	Ended       time.Time       `json:"ended"`
	Locations   []string        `json:"locations"`
	Error       string          `json:"error"`
	AlertID     json.RawMessage `json:"alertid"`
	Tags        string          `json:"tags"`
	Customer    string          `json:"customer"`
}

// liveJSON is one interface's counters while a capture runs.
type liveJSON struct {
	Interface   string    `json:"interface"`
	Packets     uint64    `json:"packets"`
	Bytes       uint64    `json:"bytes"`
	KernelDrops uint64    `json:"kernel_drops"`
	Since       time.Time `json:"since"`
}

// live decodes the "live" counters, given as a list of objects naming
// their interface or as an object keyed by interface; nil when absent.
func (c captureJSON) live() []liveJSON {
	raw := bytes.TrimSpace(c.Live)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var list []liveJSON
	if raw[0] == '[' {
		if json.Unmarshal(raw, &list) != nil {
			return nil
		}
		return list
	}
	var byIface map[string]liveJSON
	if json.Unmarshal(raw, &byIface) != nil {
		return nil
	}
	for _, name := range sortedNames(byIface) {
		l := byIface[name]
		l.Interface = name
		list = append(list, l)
	}
	return list
}

// captureList is a page of GET /v1/captures.
type captureList struct {
	Captures []captureJSON `json:"captures"`
	Next     string        `json:"next"`
}

// listResult is what the page got from the capture list for one state.
type listResult struct {
	Absent   bool   // no GET /v1/captures in this build
	Err      string // the list's error answer
	Captures []captureJSON
	More     bool // older captures than those shown exist
}

// listCaptures reads the newest limit captures in state through the API.
// A running capture without "live" counters in the list is read again by
// its id, which may have them.
func (s *Server) listCaptures(r *http.Request, state string, limit int) listResult {
	q := url.Values{"state": {state}, "limit": {fmt.Sprint(limit)}}
	code, body, ok := s.apiGet(r, "/v1/captures?"+q.Encode())
	if !ok || (code == http.StatusNotFound && !s.lists()) {
		return listResult{Absent: true}
	}
	if code != http.StatusOK {
		return listResult{Err: fmt.Sprintf("GET /v1/captures: %d %s", code, errorText(body))}
	}
	var l captureList
	if err := json.Unmarshal(body, &l); err != nil {
		return listResult{Err: "GET /v1/captures: " + err.Error()}
	}
	if len(l.Captures) > limit {
		l.Captures = l.Captures[:limit]
	}
	for i, c := range l.Captures {
		if c.State == "done" || c.live() != nil {
			continue
		}
		if code, body, ok := s.apiGet(r, "/v1/captures/"+url.PathEscape(c.ID)); ok && code == http.StatusOK {
			var one captureJSON
			if json.Unmarshal(body, &one) == nil && one.ID == c.ID {
				l.Captures[i] = one
			}
		}
	}
	return listResult{Captures: l.Captures, More: l.Next != ""}
}

// errorText is the "error" of an error answer, or the body.
func errorText(body []byte) string {
	var e errorBody
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return string(bytes.TrimSpace(body))
}

// lists reports whether the backend lists captures (GET /v1/captures
// answers 404 otherwise).
func (s *Server) lists() bool { _, ok := s.be.(Lister); return ok }

// files reports whether the backend serves capture files.
func (s *Server) files() bool { _, ok := s.be.(Filer); return ok }
