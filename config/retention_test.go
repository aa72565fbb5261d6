package config

import (
	"reflect"
	"testing"
	"time"
)

// TestLocalRetentionKeys: the local directory's bounds load from the file
// and the environment, default to 0 (no bound), and read as a duration.
func TestLocalRetentionKeys(t *testing.T) {
	file := writeFile(t, []byte("[general]\nlocalmaxfiles = 500\nlocalmaxbytes = 1610612736\nlocalmaxage = 86400\n"))
	tests := []struct {
		name  string
		args  []string
		env   []string
		files int
		bytes int64
		age   time.Duration
	}{
		{name: "defaults"},
		{name: "file", args: []string{"-config", file}, files: 500, bytes: 1610612736, age: 24 * time.Hour},
		{name: "env over file", args: []string{"-config", file}, env: []string{"PCAPDAEMON_GENERAL_LOCALMAXAGE=3600"},
			files: 500, bytes: 1610612736, age: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			c, err := Loader{Args: tt.args, Environ: tt.env}.Load()
			if err != nil {
				t.Fatal(err)
			}
			g := c.General
			got := []any{g.LocalMaxFiles, g.LocalMaxBytes, g.LocalMaxAgeDuration()}
			want := []any{tt.files, tt.bytes, tt.age}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("localmaxfiles, localmaxbytes, localmaxage = %v, want %v", got, want)
			}
		})
	}
}
