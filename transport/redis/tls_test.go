package redis

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/config"
)

// writeCerts makes a CA and a server certificate for 127.0.0.1 signed by
// it, and writes ca.pem, server.pem and server.key into dir.
func writeCerts(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pcapdaemon test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

func TestTLS(t *testing.T) {
	ca, cert, key := writeCerts(t, t.TempDir())
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
