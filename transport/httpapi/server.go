package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// Source is the source name given to the Submitter.
const Source = "http"

// Backend answers GET and DELETE /v1/captures/{id}. Adapt builds one from
// the agent's methods.
type Backend interface {
	// Lookup returns the request's state, sent as JSON as is.
	Lookup(id string) (any, bool)
	// Cancel ends a running request early; an error matching
	// agent.ErrUnknownID answers 404.
	Cancel(id string) error
}

// Adapt makes a Backend of a typed lookup function and an optional cancel
// function: Adapt(a.Lookup, a.Cancel) for an *agent.Agent. With cancel nil,
// DELETE answers 405.
func Adapt[S any](lookup func(id string) (S, bool), cancel func(id string) error) Backend {
	return adapter[S]{lookup, cancel}
}

type adapter[S any] struct {
	lookup func(string) (S, bool)
	cancel func(string) error
}

func (a adapter[S]) Lookup(id string) (any, bool) {
	if a.lookup == nil {
		return nil, false
	}
	v, ok := a.lookup(id)
	return v, ok
}

func (a adapter[S]) Cancel(id string) error {
	if a.cancel == nil {
		return errNoCancel
	}
	return a.cancel(id)
}

var errNoCancel = errors.New("httpapi: cancel not supported")

// Server is the HTTP API.
type Server struct {
	o        Options
	sub      transport.Submitter
	be       Backend
	log      *slog.Logger
	mux      *http.ServeMux
	handler  http.Handler // mux behind the Host check
	srv      *http.Server
	tls      *certFiles  // nil: plain HTTP
	loopback bool        // the listen address is loopback: Host names are checked
	status   *statusPage // nil: no status page (ServeStatus)

	mu    sync.Mutex
	ln    net.Listener
	limit *connLimiter // ln
}

// New returns a Server that submits requests to sub (the agent, behind a
// transport.Guard) and answers GET and DELETE from be (which may be nil:
// GET then answers 404 and DELETE 405). It refuses a listen address beyond
// loopback without a token (ErrNoToken), and reads the TLS certificate
// when one is configured.
func New(o Options, sub transport.Submitter, be Backend, log *slog.Logger) (*Server, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if be == nil {
		be = Adapt[any](nil, nil)
	}
	s := &Server{
		o: o, sub: sub, be: be, log: log.With("transport", Source), mux: http.NewServeMux(),
		loopback: loopbackListen(o.Listen),
	}
	if o.TLSCert != "" {
		if s.tls, err = loadCertFiles(o.TLSCert, o.TLSKey); err != nil {
			return nil, err
		}
	}
	s.mux.Handle("POST /v1/captures", s.browserGuard(s.auth(http.HandlerFunc(s.post))))
	s.mux.Handle("GET /v1/captures", s.auth(http.HandlerFunc(s.list)))
	s.mux.Handle("GET /v1/captures/{id}", s.auth(http.HandlerFunc(s.get)))
	s.mux.Handle("GET /v1/captures/{id}/file", s.auth(http.HandlerFunc(s.file)))
	s.mux.Handle("DELETE /v1/captures/{id}", s.browserGuard(s.auth(http.HandlerFunc(s.cancel))))
	s.handler = s.hostGuard(s.mux)
	s.srv = newHTTPServer(s.handler, s.log)
	if s.tls != nil {
		s.srv.TLSConfig = s.tls.config()
	}
	return s, nil
}

// Handle adds a route outside /v1/ (metrics, health checks). It is not
// behind the token, but behind the Host check. Call it before Serve.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the API's handler (the routes behind the Host check),
// for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// ReloadTLS reads the certificate files again (on SIGHUP): new connections
// get the new certificate. On failure the one in use stays. Without TLS it
// does nothing.
func (s *Server) ReloadTLS() error {
	if s.tls == nil {
		return nil
	}
	return s.tls.reload()
}

// Listen binds the listener (Serve does it if not done) and returns its
// address. At most Options.MaxConns connections are open at once (see
// connLimiter for who makes room for whom). A
// bound address beyond loopback without a token is refused (ErrNoToken),
// whatever name the listen address gave.
func (s *Server) Listen() (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr(), nil
	}
	ln, err := listenLimited(s.o.Listen, s.o.MaxConns)
	if err != nil {
		return nil, err
	}
	if ap, ok := ln.Addr().(*net.TCPAddr); ok && !ap.IP.IsLoopback() && s.o.Token == "" {
		ln.Close()
		return nil, fmt.Errorf("%w: %q bound %s", ErrNoToken, s.o.Listen, ap)
	}
	s.limit = ln
	s.ln = s.limit
	return s.ln.Addr(), nil
}

// Serve serves until ctx ends, then shuts down gracefully: it stops
// accepting, lets requests in flight finish for up to ShutdownTimeout
// (measured from a fresh context, not the ended one), then closes what is
// left. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context) error {
	addr, err := s.Listen()
	if err != nil {
		return err
	}
	s.log.Info("httpapi: serving", "addr", addr.String(), "scheme", s.scheme(), "auth", s.o.Token != "", "maxconns", s.o.MaxConns)
	return serveGracefully(ctx, s.srv, addr, s.o.ShutdownTimeout, func() error {
		if s.tls != nil {
			return s.srv.ServeTLS(s.ln, "", "") // the certificate comes from TLSConfig
		}
		return s.srv.Serve(s.ln)
	})
}

// auth requires the bearer token when one is configured.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.o.Token == "" {
		return next
	}
	want := sha256.Sum256([]byte(s.o.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		// Hashing first makes the comparison independent of the length.
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pcapdaemon"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// post submits a capture request.
func (s *Server) post(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, "reading request body: "+err.Error())
		return
	}
	id, err := s.sub.Submit(r.Context(), body, Source)
	if err != nil {
		code := statusOf(err)
		// The agent logs the requests it rejects, once, with the reason;
		// only the Guard's rejections never reach it.
		level := slog.LevelDebug
		if errors.Is(err, transport.ErrRejected) {
			level = slog.LevelWarn
		}
		s.log.Log(r.Context(), level, "httpapi: request not taken", "remote", r.RemoteAddr, "id", id, "status", code, "err", err)
		writeJSON(w, code, errorBody{Error: err.Error(), ID: id})
		return
	}
	w.Header().Set("Location", "/v1/captures/"+id)
	writeJSON(w, http.StatusAccepted, struct {
		ID string `json:"id"`
	}{id})
}

// statusOf maps a Submit error to an HTTP status.
func statusOf(err error) int {
	var hs interface{ HTTPStatus() int }
	var ve *agent.ValidationError
	switch {
	case errors.As(err, &hs):
		return hs.HTTPStatus() // the Guard's rejections
	case errors.As(err, &ve):
		return http.StatusBadRequest
	case errors.Is(err, agent.ErrNotForNode):
		return http.StatusUnprocessableEntity
	case errors.Is(err, agent.ErrDuplicate):
		return http.StatusConflict
	case errors.Is(err, agent.ErrNotAdmitted):
		return http.StatusTooManyRequests
	case errors.Is(err, agent.ErrShuttingDown):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// get returns a request's state.
func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, ok := s.be.Lookup(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no capture request with id %q", id))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// cancel cancels a running request.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	switch err := s.be.Cancel(id); {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, errNoCancel):
		writeError(w, http.StatusMethodNotAllowed, "cancelling is not supported")
	case errors.Is(err, agent.ErrUnknownID):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no running capture request with id %q", id))
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// errorBody is the JSON of every error answer; ID is set when Submit
// assigned one (a rejected request can still be looked up).
type errorBody struct {
	Error string `json:"error"`
	ID    string `json:"id,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}
