package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// The status page: GET / on the API's listener, an HTML page for people
// (status_page.go renders it from the templates in status/), and the API
// endpoints it uses beside the capture ones:
//
//	GET  /v1/agent          the agent: host, version, start, interfaces
//	POST /v1/filter/check   {"bpf", "interface", "snap"}: the program as
//	                        "pcapdaemon bpf -d" prints it, or the error with
//	                        its position
//	GET  /v1/ui/{section}   a section of the page ("agent", "interfaces",
//	                        "captures") as an HTML fragment, for the page's
//	                        script to load and refresh
//
// What the page may show without the token: with a token configured, GET /
// is the page's shell alone (no host name, no interface, no capture); its
// script asks for the token, keeps it in sessionStorage (never a cookie,
// which the browser would send by itself, nor the URL, which logs and
// histories keep) and loads every section through /v1/ui/ with it. Without
// a token (the API on loopback, where the Host check keeps other sites'
// pages out) GET / renders everything, readable without JavaScript.

// StatusSource is what the status page and GET /v1/agent ask the daemon.
type StatusSource interface {
	// Agent describes the agent now.
	Agent() AgentInfo
	// CheckFilter compiles a filter as a request's would be compiled
	// (agent.Agent.CheckFilter).
	CheckFilter(ctx context.Context, expr, iface string, snap int64) (agent.FilterCheck, error)
}

// AgentInfo is the JSON of GET /v1/agent.
type AgentInfo struct {
	Host    string    `json:"host"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	// Running is the interface captures running now.
	Running int `json:"running"`
	// Snaplen and Format are what a request gets when it names none.
	Snaplen    int             `json:"snaplen"`
	Format     string          `json:"format"`
	Interfaces []InterfaceInfo `json:"interfaces"`
}

// InterfaceInfo is one interface of the host in AgentInfo.
type InterfaceInfo struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
	// LinkType is tcpdump's name of the link type (EN10MB), DLT its number.
	LinkType string `json:"linktype"`
	DLT      uint32 `json:"dlt"`
	// Lookback is how many seconds of history the interface's look-back
	// ring holds; 0 when it keeps none. LookbackBytes is the bytes of its
	// blocks that hold them.
	Lookback      float64 `json:"lookback_seconds,omitempty"`
	LookbackBytes int64   `json:"lookback_bytes,omitempty"`
	// Error says what could not be found out about the interface.
	Error string `json:"error,omitempty"`
}

// ServeStatus adds the status page and its endpoints, answered from src.
// Call it before Serve.
func (s *Server) ServeStatus(src StatusSource) {
	s.status = newStatusPage(src)
	// "/{$}" is the root alone: a pattern "/" would also answer every
	// path no other route takes, and hide which endpoints exist.
	s.mux.Handle("GET /{$}", http.HandlerFunc(s.page))
	s.mux.Handle("GET /v1/agent", s.auth(http.HandlerFunc(s.agentInfo)))
	s.mux.Handle("GET /v1/ui/{section}", s.auth(http.HandlerFunc(s.section)))
	s.mux.Handle("POST /v1/filter/check", s.browserGuard(s.auth(http.HandlerFunc(s.checkFilter))))
}

func (s *Server) agentInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.status.src.Agent())
}

// filterCheckRequest is the body of POST /v1/filter/check.
type filterCheckRequest struct {
	BPF       string `json:"bpf"`
	Interface string `json:"interface"`
	Snap      int64  `json:"snap"`
}

// FilterCheckResult is the answer of POST /v1/filter/check.
type FilterCheckResult struct {
	Interface string `json:"interface"`
	LinkType  string `json:"linktype"`
	DLT       uint32 `json:"dlt"`
	Snaplen   int    `json:"snaplen"`
	// Instructions is the program's length; 0 with Listing "" when the
	// expression is empty: no filter is attached, every packet is taken.
	Instructions int `json:"instructions"`
	// Listing is the program as "pcapdaemon bpf -d" (tcpdump -d) prints it.
	Listing string `json:"listing"`
}

// FilterCheckError is the answer of POST /v1/filter/check for a filter
// that does not compile: the error, the request field at fault and, when
// the compiler names one, the position in the expression.
type FilterCheckError struct {
	Error    string    `json:"error"`
	Field    string    `json:"field,omitempty"`
	Position *Position `json:"position,omitempty"`
}

// Position is a place in a filter expression: the byte offset, and the
// line and column (from 1, in bytes).
type Position struct {
	Offset int `json:"offset"`
	Line   int `json:"line"`
	Col    int `json:"col"`
}

func (s *Server) checkFilter(w http.ResponseWriter, r *http.Request) {
	var req filterCheckRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.o.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, `the body must be {"bpf": "...", "interface": "...", "snap": N}: `+err.Error())
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "the body must hold one JSON object")
		return
	}
	fc, err := s.status.src.CheckFilter(r.Context(), req.BPF, req.Interface, req.Snap)
	if err != nil {
		out := FilterCheckError{Error: err.Error()}
		var ve *agent.ValidationError
		if errors.As(err, &ve) {
			out.Field = ve.Field
		}
		var pe *bpfcompile.Error
		if errors.As(err, &pe) {
			out.Position = &Position{Offset: pe.Pos.Offset, Line: pe.Pos.Line, Col: pe.Pos.Col}
		}
		writeJSON(w, http.StatusBadRequest, out)
		return
	}
	lt := bpfcompile.LinkType(fc.LinkType)
	out := FilterCheckResult{Interface: fc.Interface, LinkType: lt.String(), DLT: fc.LinkType,
		Snaplen: fc.Snaplen, Instructions: len(fc.Program)}
	if fc.Program != nil {
		var b strings.Builder
		if err := bpfcompile.Dump(&b, fc.Program, bpfcompile.DumpListing); err != nil {
			writeError(w, http.StatusInternalServerError, "printing the program: "+err.Error())
			return
		}
		out.Listing = b.String()
	}
	writeJSON(w, http.StatusOK, out)
}
