package logging

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestFormatAndLevel writes with each stderr format and a level changed
// while the logger runs (as SIGHUP does): stderr carries the records at or
// above the level in the chosen format, and syslog the same records as
// key=value text.
func TestFormatAndLevel(t *testing.T) {
	for _, tt := range []struct {
		format Format
		// check tells whether a stderr line is the "shown" record (with
		// its attribute) in the format.
		check func(line string) bool
	}{
		{"", func(l string) bool { return strings.Contains(l, "level=DEBUG msg=shown id=a1") }},
		{FormatText, func(l string) bool { return strings.Contains(l, "level=DEBUG msg=shown id=a1") }},
		{FormatJSON, func(l string) bool {
			var rec map[string]any
			return json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "shown" && rec["level"] == "DEBUG" &&
				rec["id"] == "a1" && rec["time"] != nil
		}},
	} {
		t.Run(string(tt.format), func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "log")
			conn := listenUnixgram(t, sock)
			var stderr testenv.SyncBuffer
			var level slog.LevelVar // info
			log, closer, err := New(context.Background(), &stderr, &level,
				Options{Format: tt.format, Priority: 25, Tag: "pcapdaemon", Network: "unixgram", Address: sock})
			if err != nil {
				t.Fatal(err)
			}
			defer closer.Close()
			readDatagram(t, conn) // the connected note

			log.Debug("hidden", "id", "a0")
			level.Set(slog.LevelDebug)
			log.Debug("shown", "id", "a1")
			if pri, _, text := parseLocal(t, readDatagram(t, conn)); pri != 3<<3|7 || text != "msg=shown id=a1" {
				t.Errorf("syslog got <%d> %q, want <31> %q: key=value text whatever the stderr format", pri, text, "msg=shown id=a1")
			}
			level.Set(slog.LevelError)
			log.Warn("hidden again")
			closer.Close()

			out := stderr.String()
			if strings.Contains(out, "hidden") {
				t.Errorf("a record below the level reached stderr:\n%s", out)
			}
			var found bool
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if tt.format == FormatJSON && !json.Valid([]byte(l)) {
					t.Errorf("stderr line is not JSON: %q", l)
				}
				found = found || tt.check(l)
			}
			if !found {
				t.Errorf("the debug record is not on stderr in format %q:\n%s", tt.format, out)
			}
		})
	}
}

func TestUnknownFormat(t *testing.T) {
	_, _, err := New(context.Background(), &testenv.SyncBuffer{}, slog.LevelInfo, Options{Format: "logfmt"})
	if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), `"logfmt"`) {
		t.Errorf("New with format logfmt = %v, want ErrOptions naming it", err)
	}
}
