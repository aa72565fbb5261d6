package cloudshark

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

// fakeCloudShark implements CloudShark's upload API as documented: POST
// /api/v1/<token>/upload, multipart/form-data with a "file" part and the
// optional "filename" and "additional_tags" fields; 200 with
// {"filename","id"}, or a 4xx/5xx with {"status","exceptions"}. It checks
// the request strictly and keeps every upload.
type fakeCloudShark struct {
	token string

	mu       sync.Mutex
	uploads  map[string]upload // by id
	requests int
	faults   []int // status codes to answer the next requests with
	problems []string
	discard  bool // count the file's bytes instead of keeping them (benchmarks)
}

type upload struct {
	filename, tags string
	data           []byte
}

func newFakeCloudShark(token string) *fakeCloudShark {
	return &fakeCloudShark{token: token, uploads: map[string]upload{}}
}

func (f *fakeCloudShark) fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"status": code, "exceptions": []string{msg}})
}

func (f *fakeCloudShark) problem(format string) {
	f.mu.Lock()
	f.problems = append(f.problems, format)
	f.mu.Unlock()
}

func (f *fakeCloudShark) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	var fault int
	if len(f.faults) > 0 {
		fault, f.faults = f.faults[0], f.faults[1:]
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
	if token != f.token {
		io.Copy(io.Discard, r.Body)
		f.fail(w, http.StatusForbidden, "API token is not valid")
		return
	}
	if fault != 0 {
		io.Copy(io.Discard, r.Body)
		f.fail(w, fault, "injected failure")
		return
	}
	if r.ContentLength <= 0 || len(r.TransferEncoding) > 0 {
		f.problem("body without a Content-Length")
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		f.fail(w, http.StatusBadRequest, "Content-Type must be multipart/form-data")
		return
	}
	mr, err := (&http.Request{Header: http.Header{"Content-Type": {mime.FormatMediaType(mt, params)}}, Body: r.Body}).MultipartReader()
	if err != nil {
		f.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	var up upload
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
		if f.discard && p.FormName() == "file" {
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
			up.data = b
			if up.filename == "" {
				up.filename = p.FileName()
			}
			if p.FileName() == "" {
				f.problem("file part without a filename")
			}
		case "filename":
			up.filename = string(b)
		case "additional_tags":
			up.tags = string(b)
		default:
			f.problem("unexpected form field " + p.FormName())
		}
	}
	if !gotFile || len(up.data) == 0 {
		f.fail(w, http.StatusBadRequest, "No file or url parameter was given")
		return
	}
	var idb [6]byte
	rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	f.mu.Lock()
	f.uploads[id] = up
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]string{"filename": up.filename, "id": id})
}

func (f *fakeCloudShark) check(t testing.TB) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.problems {
		t.Errorf("fake CloudShark: %s", p)
	}
}

func startFake(t testing.TB, f *fakeCloudShark, tls bool) *httptest.Server {
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(f)
	} else {
		srv = httptest.NewServer(f)
	}
	t.Cleanup(srv.Close)
	return srv
}
