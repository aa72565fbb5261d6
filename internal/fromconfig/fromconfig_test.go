package fromconfig

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/logging"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
)

func TestGuard(t *testing.T) {
	var c config.Config
	c.General.MaxMessage = 100
	c.Security.HMACKey = "0123456789abcdef"
	c.Security.MaxSkew = 5
	o := Guard(&c)
	if o.MaxMessage != 100 || string(o.HMACKey) != "0123456789abcdef" || o.MaxSkew != 5*time.Second {
		t.Errorf("Guard = %+v", o)
	}
}

func TestRedisBadCA(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, err := Redis(config.Redis{TLS: true, TLSCA: bad}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("Redis with a bad CA = %v", err)
	}
	o, err := Redis(config.Redis{Addrs: []string{"a:1", "b:2"}, Channel: "c", ResultsChannel: "c.r", Mode: "cluster", Username: "u", Auth: "p"})
	if err != nil || len(o.Addrs) != 2 || o.Mode != "cluster" || o.Username != "u" || o.Password != "p" || o.ResultsChannel != "c.r" || o.TLS != nil {
		t.Errorf("Redis = %+v, %v", o, err)
	}
}

// TestRedisCA checks that [redis] tlsca is trusted: the CA's own
// certificate verifies against the roots of the options (transport/redis's
// TestTLS connects with such options to a real redis-server over TLS).
func TestRedisCA(t *testing.T) {
	c := testenv.NewCert(t) // self-signed: its own CA
	o, err := Redis(config.Redis{Host: "127.0.0.1", Port: 6379, Channel: "capture", TLS: true, TLSCA: c.CertFile, TLSServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if o.TLS == nil || o.TLS.MinVersion != tls.VersionTLS12 || o.TLS.ServerName != "localhost" || o.TLS.RootCAs == nil {
		t.Fatalf("TLS config %+v: want TLS 1.2 or later, server name localhost, the CA's roots", o.TLS)
	}
	b, err := os.ReadFile(c.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: o.TLS.RootCAs, DNSName: "localhost"}); err != nil {
		t.Errorf("the tlsca certificate is not trusted: %v", err)
	}
}

// TestResultsSuffix: the daemon's default results channel (config) and
// the Redis transport's are the same.
func TestResultsSuffix(t *testing.T) {
	if config.ResultsSuffix != redis.ResultsSuffix {
		t.Errorf("config.ResultsSuffix %q, redis.ResultsSuffix %q", config.ResultsSuffix, redis.ResultsSuffix)
	}
}

func TestLogging(t *testing.T) {
	for level, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		if got := LogLevel(config.Log{Level: level}); got != want {
			t.Errorf("LogLevel(%q) = %v, want %v", level, got, want)
		}
	}
	var c config.Config
	c.Log.Format = "json"
	c.Syslog = config.Syslog{Priority: 25, Tag: "t", Network: "udp", Address: "h:514"}
	o := Logging(&c, []string{"/dev/log"})
	if o.Format != logging.FormatJSON || o.Priority != 25 || o.Tag != "t" || o.Network != "udp" || o.Address != "h:514" || len(o.LocalPaths) != 1 {
		t.Errorf("Logging = %+v", o)
	}
}
