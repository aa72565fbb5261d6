package redis

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

func TestTLS(t *testing.T) {
	c := testenv.NewCert(t) // self-signed: it is its own CA
	ca, cert, key := c.CertFile, c.CertFile, c.KeyFile
	srv := startServer(t, "tls-cert-file "+cert, "tls-key-file "+key, "tls-ca-cert-file "+ca, "tls-auth-clients no", "requirepass pw")
	rc := config.Redis{Host: "127.0.0.1", Port: srv.port, Channel: "capture", Auth: "pw", TLS: true, TLSCA: ca}
	o, err := OptionsFromConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	sub := make(chanSubmitter, 1)
	tr, err := New(o, sub, nil)
	if err != nil {
		t.Fatal(err)
	}
	running(t, tr)
	waitState(t, tr, StateUp)
	publish(t, o, "capture", "over tls")
	expect(t, sub, "over tls")

	// Without the CA the server's certificate is not trusted.
	rc.TLSCA = ""
	o, _ = OptionsFromConfig(rc)
	o.DialTimeout = 2 * time.Second
	if _, err := Dial(o); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Dial without the CA = %v, want a certificate error", err)
	}
	// Plain TCP to a TLS port fails rather than hanging.
	o.TLS = nil
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := Dial(o); err == nil {
		_, err = c.Publish(ctx, "capture", []byte("x"))
		c.Close()
		if err == nil {
			t.Error("plain TCP to the TLS port worked")
		}
	}
}

func TestOptionsFromConfigBadCA(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, err := OptionsFromConfig(config.Redis{TLS: true, TLSCA: bad}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("OptionsFromConfig with a bad CA = %v", err)
	}
	o, err := OptionsFromConfig(config.Redis{Addrs: []string{"a:1", "b:2"}, Channel: "c", ResultsChannel: "c.r", Mode: "cluster", Username: "u", Auth: "p"})
	if err != nil || len(o.Addrs) != 2 || o.Mode != "cluster" || o.Username != "u" || o.Password != "p" || o.ResultsChannel != "c.r" || o.TLS != nil {
		t.Errorf("OptionsFromConfig = %+v, %v", o, err)
	}
}
