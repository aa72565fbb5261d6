package metrics

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Health answers /healthz and /readyz. It is safe for concurrent use.
type Health struct {
	mu     sync.Mutex
	checks []check
}

type check struct {
	name  string
	ready func() error
}

// AddCheck adds a readiness check: ready returns nil when the named part
// (a request source, the capture capability) can do its work, or an error
// saying why not.
func (h *Health) AddCheck(name string, ready func() error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, check{name, ready})
}

// Healthz answers 200 "ok" as long as the process serves HTTP at all: a
// liveness probe that fails only when the daemon is wedged.
func (h *Health) Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
}

// Readyz runs every check and answers 200 when all pass, else 503. The body
// lists each check as "[+]name ok" or "[-]name: why", the form Kubernetes'
// own components use.
func (h *Health) Readyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ok, report := h.Ready()
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeText(w, code, report)
	})
}

// Ready runs the checks and returns whether all passed, and the report.
func (h *Health) Ready() (bool, string) {
	h.mu.Lock()
	checks := append([]check(nil), h.checks...)
	h.mu.Unlock()
	var b strings.Builder
	ok := true
	for _, c := range checks {
		if err := c.ready(); err != nil {
			ok = false
			fmt.Fprintf(&b, "[-]%s: %v\n", c.name, err)
			continue
		}
		fmt.Fprintf(&b, "[+]%s ok\n", c.name)
	}
	if ok {
		b.WriteString("ready\n")
	} else {
		b.WriteString("not ready\n")
	}
	return ok, b.String()
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
