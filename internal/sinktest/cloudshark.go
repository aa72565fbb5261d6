package sinktest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Cloudshark implements CloudShark's upload API as documented: POST
// /api/v1/<token>/upload, multipart/form-data with a "file" part and the
// optional "filename" and "additional_tags" fields; 200 with
// {"filename","id"}, or a 4xx/5xx with {"status","exceptions"}. It checks
// the request strictly and keeps every upload.
type Cloudshark struct {
	Token   string
	Faults  []int // status codes (or FaultClose) to answer the next requests with (set before serving)
	Discard bool  // count the file's bytes instead of keeping them (benchmarks)

	mu       sync.Mutex
	uploads  map[string]Upload // by id
	requests int
	problems []string
}

// FaultClose, in Cloudshark.Faults, closes the connection without a
// reply: the client sees a network error (which names the URL) rather than
// an HTTP status.
const FaultClose = -1

// Upload is a capture uploaded to Cloudshark.
type Upload struct {
	Filename, Tags string
	Data           []byte
}

// NewCloudshark returns a server that takes uploads made with token.
func NewCloudshark(token string) *Cloudshark {
	return &Cloudshark{Token: token, uploads: map[string]Upload{}}
}

// Start serves f on loopback (https with httptest's certificate when tls)
// until the test ends; then it fails the test for every problem it found in
// a request.
func (f *Cloudshark) Start(t testing.TB, tls bool) *httptest.Server {
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(f)
	} else {
		srv = httptest.NewServer(f)
	}
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.problems {
			t.Errorf("Cloudshark test server: %s", p)
		}
	})
	return srv
}

// Upload returns the upload with the given id.
func (f *Cloudshark) Upload(id string) (Upload, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.uploads[id]
	return u, ok
}

// Uploads returns how many uploads the server holds.
func (f *Cloudshark) Uploads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.uploads)
}

// Requests returns how many requests the server got.
func (f *Cloudshark) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Reset forgets the uploads.
func (f *Cloudshark) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.uploads)
}

func (f *Cloudshark) fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": code, "exceptions": []string{msg}})
}

func (f *Cloudshark) problem(msg string) {
	f.mu.Lock()
	f.problems = append(f.problems, msg)
	f.mu.Unlock()
}

func (f *Cloudshark) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	var fault int
	if len(f.Faults) > 0 {
		fault, f.Faults = f.Faults[0], f.Faults[1:]
	}
	f.mu.Unlock()

	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/")
	token, action, _ := strings.Cut(rest, "/")
	if !ok || action != "upload" {
		f.fail(w, http.StatusNotFound, "No route matches "+r.URL.Path)
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		f.fail(w, http.StatusMethodNotAllowed, "upload takes POST or PUT")
		return
	}
	if token != f.Token {
		_, _ = io.Copy(io.Discard, r.Body)
		f.fail(w, http.StatusForbidden, "API token is not valid")
		return
	}
	if fault == FaultClose {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
			return
		}
		f.problem("cannot hijack the connection to close it")
		return
	}
	if fault != 0 {
		_, _ = io.Copy(io.Discard, r.Body)
		f.fail(w, fault, "injected failure")
		return
	}
	if r.ContentLength <= 0 || len(r.TransferEncoding) > 0 {
		f.problem("body without a Content-Length")
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		f.fail(w, http.StatusBadRequest, "Content-Type must be multipart/form-data")
		return
	}
	mr, err := (&http.Request{Header: http.Header{"Content-Type": {mime.FormatMediaType(mt, params)}}, Body: r.Body}).MultipartReader()
	if err != nil {
		f.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	var up Upload
	var gotFile bool
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.fail(w, http.StatusBadRequest, "malformed multipart body: "+err.Error())
			return
		}
		var b []byte
		if f.Discard && p.FormName() == "file" {
			var n int64
			n, err = io.Copy(io.Discard, p)
			b = make([]byte, min(n, 1)) // non-empty when data came
		} else {
			b, err = io.ReadAll(p)
		}
		if err != nil {
			f.fail(w, http.StatusBadRequest, "malformed multipart part: "+err.Error())
			return
		}
		switch p.FormName() {
		case "file":
			gotFile = true
			up.Data = b
			if up.Filename == "" {
				up.Filename = p.FileName()
			}
			if p.FileName() == "" {
				f.problem("file part without a filename")
			}
		case "filename":
			up.Filename = string(b)
		case "additional_tags":
			up.Tags = string(b)
		default:
			f.problem("unexpected form field " + p.FormName())
		}
	}
	if !gotFile || len(up.Data) == 0 {
		f.fail(w, http.StatusBadRequest, "No file or url parameter was given")
		return
	}
	var idb [6]byte
	_, _ = rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	f.mu.Lock()
	f.uploads[id] = up
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]string{"filename": up.Filename, "id": id})
}
