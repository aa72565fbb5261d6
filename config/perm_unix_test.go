//go:build unix

package config

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeDir is a directory's FileInfo with chosen owner and mode.
type fakeDir struct {
	mode     os.FileMode
	uid, gid uint32
}

func (f fakeDir) Name() string       { return "d" }
func (f fakeDir) Size() int64        { return 0 }
func (f fakeDir) Mode() os.FileMode  { return os.ModeDir | f.mode }
func (f fakeDir) ModTime() time.Time { return time.Time{} }
func (f fakeDir) IsDir() bool        { return true }
func (f fakeDir) Sys() any           { return &syscall.Stat_t{Uid: f.uid, Gid: f.gid} }

func TestCanCreateIn(t *testing.T) {
	me := identity{uid: 1000, gid: 1000, groups: []int{1000, 27}}
	tests := []struct {
		name string
		dir  fakeDir
		id   identity
		ok   bool
		as   string
	}{
		{"owner rwx", fakeDir{0o700, 1000, 0}, me, true, ""},
		{"owner r-x", fakeDir{0o500, 1000, 0}, me, false, "its owner"},
		{"owner -w- no search", fakeDir{0o277, 1000, 0}, me, false, "its owner"},
		{"group rwx", fakeDir{0o770, 0, 1000}, me, true, ""},
		{"supplementary group", fakeDir{0o770, 0, 27}, me, true, ""},
		{"group r-x, others rwx", fakeDir{0o757, 0, 27}, me, false, "its group"},
		{"others rwx", fakeDir{0o777, 0, 0}, me, true, ""},
		{"sticky /tmp", fakeDir{0o777 | os.ModeSticky, 0, 0}, me, true, ""},
		{"others r-x", fakeDir{0o755, 0, 0}, me, false, "others"},
		{"root passes bits", fakeDir{0o500, 1000, 1000}, identity{}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := canCreateIn(tt.dir, tt.id)
			if ok != tt.ok || !strings.Contains(why, tt.as) {
				t.Errorf("canCreateIn = %v, %q; want %v, saying %q", ok, why, tt.ok, tt.as)
			}
		})
	}
}
