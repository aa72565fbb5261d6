package fromconfig

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/transport"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
	"github.com/pcapdaemon/pcapdaemon/transport/sqs"
)

// Guard maps general.maxmessage and [security] onto the Guard's options.
func Guard(c *config.Config) transport.GuardOptions {
	return transport.GuardOptions{
		MaxMessage: c.General.MaxMessage,
		HMACKey:    []byte(c.Security.HMACKey),
		MaxSkew:    c.Security.MaxSkewDuration(),
	}
}

// Redis maps the [redis] section onto the Redis transport's options,
// reading the CA file when one is configured.
func Redis(c config.Redis) (redis.Options, error) {
	o := redis.Options{
		Addrs:          c.Addresses(),
		Mode:           c.Mode,
		MasterSet:      c.Master,
		Username:       c.Username,
		Password:       c.Auth,
		Channel:        c.Channel,
		ResultsChannel: c.ResultsChannel,
	}
	if c.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
		if c.TLSCA != "" {
			pem, err := os.ReadFile(c.TLSCA)
			if err != nil {
				return redis.Options{}, fmt.Errorf("redis: tlsca: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return redis.Options{}, fmt.Errorf("redis: tlsca %s: no PEM certificate found", c.TLSCA)
			}
			tc.RootCAs = pool
		}
		o.TLS = tc
	}
	return o, nil
}

// HTTP maps [http] (and general.maxmessage, general.shutdowngrace) onto the
// HTTP API's options.
func HTTP(c *config.Config) httpapi.Options {
	return httpapi.Options{
		Listen:          c.HTTP.Listen,
		Token:           c.HTTP.Token,
		TLSCert:         c.HTTP.TLSCert,
		TLSKey:          c.HTTP.TLSKey,
		MaxConns:        c.HTTP.MaxConns,
		MaxBody:         int64(c.General.MaxMessage),
		ShutdownTimeout: min(c.General.ShutdownGraceDuration(), 10*time.Second),
	}
}

// Metrics maps [metrics] listen (and [http] maxconns, general.shutdowngrace:
// the metrics listener takes the API's cap and shutdown bound) onto the
// metrics listener's options.
func Metrics(c *config.Config) httpapi.MetricsOptions {
	return httpapi.MetricsOptions{
		Listen:          c.Metrics.Listen,
		MaxConns:        c.HTTP.MaxConns,
		ShutdownTimeout: min(c.General.ShutdownGraceDuration(), 10*time.Second),
	}
}

// SQS maps [sqs] onto the SQS transport's configuration; client is the
// HTTP client the SDK uses (nil: its own).
func SQS(c config.SQS, client *http.Client) sqs.Config {
	return sqs.Config{
		QueueURL: c.URL, Region: c.Region, Endpoint: c.Endpoint, Protocol: c.Protocol,
		AccessID: c.AccessID, AccessKey: c.AccessKey, WaitSeconds: c.WaitSeconds,
		ChunkSize: c.ChunkSize, Shared: c.Shared, ResultsURL: c.ResultsURL,
		HTTPClient: client,
	}
}
