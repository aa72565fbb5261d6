package httpapi

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"time"
)

//go:embed status
var statusFiles embed.FS

// The page's limits: how many captures each table shows.
const (
	runningShown  = 50
	finishedShown = 20
)

// statusPage renders the page and its sections.
type statusPage struct {
	src  StatusSource
	tmpl *template.Template
	css  template.CSS // status/page.css, trusted: it is part of the binary
	js   template.JS  // status/page.js, likewise
	now  func() time.Time
}

func newStatusPage(src StatusSource) *statusPage {
	css, err := statusFiles.ReadFile("status/page.css")
	if err != nil {
		panic(err) // embedded: a build without the file does not compile
	}
	js, err := statusFiles.ReadFile("status/page.js")
	if err != nil {
		panic(err)
	}
	return &statusPage{
		src:  src,
		tmpl: template.Must(template.New("status").ParseFS(statusFiles, "status/page.html")),
		css:  template.CSS(css),
		js:   template.JS(js),
		now:  time.Now,
	}
}

// pageData is what the "page" template is given.
type pageData struct {
	Nonce        string
	CSS          template.CSS
	JS           template.JS
	AuthRequired bool
	// Shell is set when the data is left out (a token is configured):
	// the script loads the sections with the token.
	Shell      bool
	Agent      *agentView
	Interfaces []ifaceView
	Captures   capturesView
}

// page answers GET /: the whole page, or its shell when a token is set.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	d := pageData{Nonce: nonce(), CSS: s.status.css, JS: s.status.js, AuthRequired: s.o.Token != ""}
	if d.AuthRequired {
		d.Shell = true
	} else {
		a := s.status.src.Agent()
		d.Agent = newAgentView(a, s.status.now())
		d.Interfaces = newIfaceViews(a.Interfaces)
		d.Captures = s.capturesView(r)
	}
	s.render(w, "page", d, "default-src 'none'; script-src 'nonce-"+d.Nonce+"'; style-src 'nonce-"+d.Nonce+
		"'; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
}

// section answers GET /v1/ui/{section}: one section as an HTML fragment.
func (s *Server) section(w http.ResponseWriter, r *http.Request) {
	var data any
	switch name := r.PathValue("section"); name {
	case "agent":
		data = newAgentView(s.status.src.Agent(), s.status.now())
	case "interfaces":
		data = newIfaceViews(s.status.src.Agent().Interfaces)
	case "captures":
		data = s.capturesView(r)
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no page section %q: there are agent, interfaces and captures", name))
		return
	}
	// A fragment is inserted into the page, never shown as a document.
	s.render(w, r.PathValue("section"), data, "default-src 'none'; frame-ancestors 'none'")
}

// capturesView reads the running and the finished captures through the
// API, with r's credentials.
func (s *Server) capturesView(r *http.Request) capturesView {
	now := s.status.now()
	download := s.files() && s.hasRoute(http.MethodGet, "/v1/captures/x/file")
	return capturesView{
		Running:  newListView(s.listCaptures(r, "running", runningShown), runningShown, now, false),
		Finished: newListView(s.listCaptures(r, "done", finishedShown), finishedShown, now, download),
	}
}

// render executes the named template into a buffer, so that a failure
// answers 500 instead of half a page, and sends it with the headers every
// HTML answer gets.
func (s *Server) render(w http.ResponseWriter, name string, data any, csp string) {
	var b bytes.Buffer
	if err := s.status.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		s.log.Error("httpapi: rendering the status page", "template", name, "error", err)
		writeError(w, http.StatusInternalServerError, "rendering the page failed")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

// nonce returns a fresh CSP nonce: the page's own inline style and script
// run, nothing else inline does.
func nonce() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	// Raw URL base64 has no character that HTML escapes in an attribute.
	return base64.RawURLEncoding.EncodeToString(b)
}
