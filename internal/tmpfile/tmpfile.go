package tmpfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxTries bounds the search for a free name (as os.CreateTemp does).
const maxTries = 10000

// ErrPattern is returned for a pattern holding a path separator.
var ErrPattern = errors.New("pattern contains a path separator")

// Create creates a new file in dir, opened for writing, whose name is
// pattern with its last "*" replaced by a random string (appended when
// there is none), and whose mode is perm masked by the umask. It never
// opens an existing file.
func Create(dir, pattern string, perm fs.FileMode) (*os.File, error) {
	if strings.ContainsRune(pattern, os.PathSeparator) {
		return nil, &os.PathError{Op: "createtemp", Path: pattern, Err: ErrPattern}
	}
	prefix, suffix := pattern, ""
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	for range maxTries {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36)+suffix)
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("creating a temporary file %s in %s: no free name after %d tries", pattern, dir, maxTries)
}
