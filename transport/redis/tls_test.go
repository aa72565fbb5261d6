package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

func TestTLS(t *testing.T) {
	c := testenv.NewCert(t) // self-signed: it is its own CA
	ca, cert, key := c.CertFile, c.CertFile, c.KeyFile
	srv := startServer(t, "tls-cert-file "+cert, "tls-key-file "+key, "tls-ca-cert-file "+ca, "tls-auth-clients no", "requirepass pw")
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s: no PEM certificate", ca)
	}
	// As the daemon's [redis] tls = true, tlsca = ca (internal/fromconfig).
	tlsWith := func(roots *x509.CertPool) *tls.Config {
		return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	}
	o := Options{Addrs: []string{fmt.Sprintf("127.0.0.1:%d", srv.port)}, Channel: "capture", Password: "pw", TLS: tlsWith(roots)}
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
	o.TLS = tlsWith(nil)
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
