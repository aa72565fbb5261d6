package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
)

// TransientStatus reports whether an HTTP reply with this status is worth
// another try: 408 Request Timeout, 425 Too Early, 429 Too Many Requests
// and every 5xx but 501 Not Implemented and 505 HTTP Version Not
// Supported. Every other status (a bad token, a missing bucket, access
// denied) is permanent.
func TransientStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return code >= 500 && code <= 599
}

// TransientNetwork reports whether err, a failure with no HTTP reply, is
// worth another try: a refused, reset or timed-out connection, an
// unexpected EOF, a temporary DNS failure. A certificate the client does
// not trust (BadCertificate) and a cancelled context are permanent.
func TransientNetwork(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || BadCertificate(err) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && (dnsErr.IsTemporary || dnsErr.IsTimeout)
}

// BadCertificate reports whether err is a TLS failure that another try
// cannot fix: a server certificate that does not verify (unknown
// authority, wrong host name, expired) or a server that does not speak
// TLS at all.
func BadCertificate(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verify           *tls.CertificateVerificationError
		recordHeader     tls.RecordHeaderError
	)
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || errors.As(err, &recordHeader)
}
