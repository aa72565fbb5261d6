package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// knownKeys returns every "section.key" of Config with its type, and the
// keys of the [[interface]] tables (as "interface.name"...).
func knownKeys() map[string]reflect.Type {
	m := make(map[string]reflect.Type)
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		sf := ct.Field(i)
		sec := sf.Tag.Get("koanf")
		if sec == "" || sec == "-" {
			continue
		}
		st := sf.Type
		if st.Kind() == reflect.Slice {
			st = st.Elem()
		}
		for j := range st.NumField() {
			f := st.Field(j)
			if k := f.Tag.Get("koanf"); k != "" && k != "-" {
				m[sec+"."+k] = f.Type
			}
		}
	}
	return m
}

// isTableArray reports whether sec is written as [[sec]] (an array of
// tables).
func isTableArray(sec string) bool { return sec == "interface" }

// UnknownKeyError reports keys that Config does not know, with the nearest
// known key when one is close (a likely typo).
type UnknownKeyError struct {
	Key        string // "section.key" as written
	Suggestion string // nearest known key, or ""
}

func (e *UnknownKeyError) Error() string {
	if e.Suggestion != "" {
		return fmt.Sprintf("%s: unknown key (did you mean %s?)", e.Key, e.Suggestion)
	}
	return fmt.Sprintf("%s: unknown key", e.Key)
}

// checkKeys returns one *UnknownKeyError per key of raw (the merged,
// nested configuration map) that is not a Config key, and a *KeyError for a
// section that is not a table.
func checkKeys(raw map[string]any) []error {
	known := knownKeys()
	sections := make(map[string]bool)
	for k := range known {
		sec, _, _ := strings.Cut(k, ".")
		sections[sec] = true
	}
	var errs []error
	unknown := func(key string) {
		errs = append(errs, &UnknownKeyError{Key: key, Suggestion: suggest(key, known, sections)})
	}
	for _, sec := range sortedKeys(raw) {
		v := raw[sec]
		if !sections[sec] {
			unknown(sec)
			continue
		}
		var tables []map[string]any
		switch t := v.(type) {
		case map[string]any:
			if isTableArray(sec) {
				errs = append(errs, &KeyError{Key: sec, Reason: "must be an array of tables, written [[" + sec + "]]"})
				continue
			}
			tables = []map[string]any{t}
		case []any:
			if !isTableArray(sec) {
				errs = append(errs, &KeyError{Key: sec, Reason: "must be a table, written [" + sec + "]"})
				continue
			}
			for i, e := range t {
				m, ok := e.(map[string]any)
				if !ok {
					errs = append(errs, &KeyError{Key: fmt.Sprintf("%s[%d]", sec, i), Reason: "must be a table"})
					continue
				}
				tables = append(tables, m)
			}
		case []map[string]any:
			tables = t
		default:
			errs = append(errs, &KeyError{Key: sec, Reason: fmt.Sprintf("must be a table, found %T", v)})
			continue
		}
		for _, t := range tables {
			for _, k := range sortedKeys(t) {
				if _, ok := known[sec+"."+k]; !ok {
					unknown(sec + "." + k)
				}
			}
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// suggest returns the known key (or section) nearest to key, if the edit
// distance is small enough to be a typo, else "".
func suggest(key string, known map[string]reflect.Type, sections map[string]bool) string {
	cands := sortedKeys(known)
	if !strings.Contains(key, ".") {
		cands = sortedKeys(sections)
	}
	best, bestD := "", 1<<30
	_, leaf, _ := strings.Cut(key, ".")
	for _, c := range cands {
		d := editDistance(key, c)
		// A key put in the wrong section ([general] auth) is also a near miss.
		if _, cl, ok := strings.Cut(c, "."); ok && leaf != "" && cl == leaf {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= 2 || (bestD <= 3 && len(key) > 12) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
