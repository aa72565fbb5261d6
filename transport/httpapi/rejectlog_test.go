package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// TestRejectionLoggedOnce puts the real agent behind the Guard and the API,
// all logging to one place: a request the agent rejects is logged once (by
// the agent, with id, source and reason), and so is a message the Guard
// rejects (by the API, with the remote address).
func TestRejectionLoggedOnce(t *testing.T) {
	var logs testenv.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ag, err := agent.New(agent.Config{Hostname: "cap1"}, agent.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Shutdown(t.Context()) })
	guard := transport.NewGuard(transport.GuardOptions{MaxMessage: 200}, ag)
	s, err := New(Options{Listen: "127.0.0.1:0", MaxBody: 1000}, guard, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body, mark, want string
		code                   int
	}{
		{name: "rejected by the agent", body: `{"id":"rej-snap","node":"any","interface":["lo"],"snap":-1}`,
			mark: "rej-snap", want: "source=http", code: http.StatusBadRequest},
		{name: "rejected by the guard", body: `{"id":"rej-big","node":"any","tags":"` + strings.Repeat("x", 250) + `"}`,
			mark: "exceeds the limit of 200", want: "remote=", code: http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "http://127.0.0.1/v1/captures", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			s.Handler().ServeHTTP(w, req)
			if w.Code != tc.code {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tc.code)
			}
			var lines []string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, tc.mark) {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], tc.want) {
				t.Errorf("%d lines name %q, want one WARN with %s:\n%s", len(lines), tc.mark, tc.want, strings.Join(lines, "\n"))
			}
		})
	}
}
