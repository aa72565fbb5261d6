package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/transport"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
)

// TestRequestOverHTTPS publishes with "pcapdaemon request" to the real
// HTTP API server serving HTTPS with a token, over a loopback socket: the
// server's checks (Content-Type, Origin, Host, token) let the command
// through; its certificate is trusted with -httpca, or from the daemon's
// config with -config, and not otherwise.
func TestRequestOverHTTPS(t *testing.T) {
	cert := testenv.NewCert(t)
	var mu sync.Mutex
	var got []string
	sub := transport.SubmitterFunc(func(_ context.Context, msg []byte, _ string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(msg))
		return fmt.Sprintf("req-%d", len(got)), nil
	})
	port := testenv.FreePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	s, err := httpapi.New(httpapi.Options{Listen: listen, Token: "tok", TLSCert: cert.CertFile, TLSKey: cert.KeyFile}, sub, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	cfgFile := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	cfg := fmt.Sprintf("[general]\nwritelocal = true\nlocaldir = %q\n\n[http]\nlisten = %q\ntoken = \"tok\"\ntlscert = %q\ntlskey = %q\n",
		t.TempDir(), listen, cert.CertFile, cert.KeyFile)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	msg := []string{"-node", "any", "-interface", "lo", "-packets", "1"}
	url := "https://" + listen
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string // on stderr
	}{
		{"-httpca", []string{"-http", url, "-token", "tok", "-httpca", cert.CertFile}, 0, ""},
		{"-config", []string{"-config", cfgFile}, 0, ""},
		{"unknown certificate", []string{"-http", url, "-token", "tok"}, 1, "certificate"},
		{"wrong token", []string{"-http", url, "-token", "tok2", "-httpca", cert.CertFile}, 1, "HTTP 401"},
		{"not a certificate", []string{"-http", url, "-token", "tok", "-httpca", cfgFile}, 2, "no PEM certificate found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			before := len(got)
			mu.Unlock()
			r := reqRunCmd(t, "", nil, append(tt.args, msg...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.code, tt.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if n := len(got) - before; (tt.code == 0) != (n == 1) {
				t.Errorf("%d requests reached the agent", n)
			}
		})
	}
}
