package httpapi

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The checks in this file keep web pages out. A browser sends a page's
// requests to any address, the API's included: a "simple" cross-origin
// POST (a form, or fetch with a text/plain or form body) needs no CORS
// preflight, and a DNS-rebinding page reaches a loopback listener under
// its own host name. So:
//
//   - a loopback listener answers only Host names that are loopback
//     (rebinding gives the attacker's name, which is not);
//   - POST and DELETE need Content-Type: application/json, which a page
//     can only send after a preflight this API never grants;
//   - POST and DELETE with an Origin header that is not the API's own are
//     refused (curl and the CLI send no Origin).

// hostGuard answers 421 Misdirected Request for a Host header that is not
// a loopback name, on a loopback listener.
func (s *Server) hostGuard(next http.Handler) http.Handler {
	if !s.loopback {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "" && !loopbackHost(hostOnly(r.Host)) {
			writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf(
				"Host %q is not a loopback name: this API listens on loopback and answers only localhost, 127.0.0.0/8 and [::1] (a defence against DNS rebinding)", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// browserGuard refuses a request that changes state (POST, DELETE) when it
// comes from another origin (403) or without a JSON Content-Type (415).
func (s *Server) browserGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && !s.sameOrigin(origin, r.Host) {
			writeError(w, http.StatusForbidden, fmt.Sprintf(
				"Origin %q is not this API's own (%s://%s): requests from web pages are refused", origin, s.scheme(), r.Host))
			return
		}
		ct := r.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf(
				"Content-Type must be application/json, found %q", ct))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// scheme is the API's URL scheme.
func (s *Server) scheme() string {
	if s.tls != nil {
		return "https"
	}
	return "http"
}

// sameOrigin reports whether origin (the Origin header, scheme://host[:port])
// is the API's own as reached through host (the Host header).
func (s *Server) sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != s.scheme() || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return false // "null", a path, another scheme...
	}
	return canonicalHost(u.Host, u.Scheme) == canonicalHost(host, u.Scheme)
}

// canonicalHost lowercases host[:port] and drops the scheme's default port.
func canonicalHost(hostport, scheme string) string {
	hostport = strings.ToLower(hostport)
	def := map[string]string{"http": "80", "https": "443"}[scheme]
	if h, p, err := net.SplitHostPort(hostport); err == nil && p == def {
		if strings.Contains(h, ":") {
			return "[" + h + "]" // IPv6
		}
		return h
	}
	return hostport
}

// hostOnly strips the port from a Host header value.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
