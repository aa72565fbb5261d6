package s3

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// maxFolder bounds a key prefix; S3 keys are at most 1024 bytes and the
// file name needs the rest.
const maxFolder = 512

// cleanFolder validates a key prefix and returns it without surrounding
// slashes: "/"-separated segments, none of them empty, "." or "..", no
// backslash and no control character. It mirrors config.CheckFolder (and is
// stricter: empty segments), so that a folder the daemon's configuration
// accepts is accepted here too.
func cleanFolder(f string) (string, error) {
	f = strings.Trim(f, "/")
	switch {
	case len(f) > maxFolder:
		return "", fmt.Errorf("%d bytes, at most %d", len(f), maxFolder)
	case strings.ContainsRune(f, '\\'):
		return "", errors.New("must not contain a backslash")
	case strings.ContainsFunc(f, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", errors.New("must not contain a control character")
	case f == "":
		return "", nil
	}
	for seg := range strings.SplitSeq(f, "/") {
		switch seg {
		case "":
			return "", errors.New(`must not contain an empty segment ("a//b")`)
		case ".", "..":
			return "", errors.New(`must not contain a "." or ".." segment`)
		}
	}
	return f, nil
}

// underFolder reports whether the (clean) folder f is base itself or a
// sub-prefix of it. Every folder is under the bucket's root ("").
func underFolder(f, base string) bool {
	return base == "" || f == base || strings.HasPrefix(f, base+"/")
}

// checkRequestFolder returns the key prefix a request's "folder" asks for,
// or a *RefusedError: the folder must be well formed (cleanFolder) and be
// the configured folder, a sub-prefix of it, or one listed in allowfolders.
func (c *Config) checkRequestFolder(folder string) (string, error) {
	f, err := cleanFolder(folder)
	if err != nil {
		return "", &RefusedError{Field: "folder", Value: folder, Reason: err.Error()}
	}
	if underFolder(f, c.Folder) || slices.Contains(c.AllowFolders, f) {
		return f, nil
	}
	return "", &RefusedError{Field: "folder", Value: folder, Key: "allowfolders",
		Reason: fmt.Sprintf("not under the configured folder (a request's folder must be %q or start with %q)", c.Folder, c.Folder+"/")}
}
