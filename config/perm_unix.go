//go:build unix

package config

import (
	"fmt"
	"os"
	"slices"
	"syscall"
)

// identity is who the permission bits are judged for.
type identity struct {
	uid, gid int
	groups   []int
}

// writableByMe judges from fi's owner and permission bits whether this
// process may create files in the directory fi describes; see canCreateIn.
func writableByMe(fi os.FileInfo) (ok bool, why string) {
	groups, _ := os.Getgroups()
	return canCreateIn(fi, identity{uid: os.Geteuid(), gid: os.Getegid(), groups: groups})
}

// canCreateIn judges, as access(2) would without access control lists or
// mount flags, whether id may create files in the directory fi describes
// (write and search permission); why says what is missing.
func canCreateIn(fi os.FileInfo, id identity) (ok bool, why string) {
	st, isStat := fi.Sys().(*syscall.Stat_t)
	if !isStat || id.uid == 0 {
		return true, "" // root passes permission bits
	}
	perm := fi.Mode().Perm()
	need, as := os.FileMode(0o003), "others"
	switch {
	case int(st.Uid) == id.uid:
		need, as = 0o300, "its owner"
	case int(st.Gid) == id.gid || slices.Contains(id.groups, int(st.Gid)):
		need, as = 0o030, "its group"
	}
	if perm&need == need {
		return true, ""
	}
	return false, fmt.Sprintf("mode %v (owner uid %d, group gid %d) does not let uid %d, as %s, create files", perm, st.Uid, st.Gid, id.uid, as)
}
