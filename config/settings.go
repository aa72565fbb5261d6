package config

import (
	"fmt"
	"reflect"
	"sort"
)

// Redacted returns a copy of c with the value of every secret key (see
// IsSecretKey) that is set replaced by "REDACTED", for logs and for
// pcapdaemon check.
func (c *Config) Redacted() *Config {
	r := *c
	r.Interfaces = append([]Interface(nil), c.Interfaces...)
	rv := reflect.ValueOf(&r).Elem()
	forEachSection(rv, func(sec string, sv reflect.Value) {
		for _, f := range keyFields(sv.Type()) {
			fv := sv.Field(f.index)
			if fv.Kind() == reflect.String && fv.String() != "" && IsSecretKey(sec+"."+f.key) {
				fv.SetString("REDACTED")
			}
		}
	})
	return &r
}

// Setting is one key of the configuration with its value.
type Setting struct {
	// Key is "section.key", or "interface[i].key" for [[interface]].
	Key string
	// Value is a string, bool, int, int64 or []string.
	Value any
}

// String renders the setting as a TOML-like line: key = value.
func (s Setting) String() string { return s.Key + " = " + tomlValue(s.Value) }

// Settings lists every key of c with its value, in a stable order:
// sections as in Config, keys sorted within a section, [[interface]]
// tables in file order. Secrets are listed as they are: list Redacted()'s
// settings to show them.
func (c *Config) Settings() []Setting {
	var out []Setting
	forEachSection(reflect.ValueOf(c).Elem(), func(sec string, sv reflect.Value) {
		for _, f := range keyFields(sv.Type()) {
			out = append(out, Setting{Key: sec + "." + f.key, Value: sv.Field(f.index).Interface()})
		}
	})
	return out
}

// forEachSection calls fn for every section of the Config that rv holds;
// a [[table]] section once per table, named "section[i]".
func forEachSection(rv reflect.Value, fn func(sec string, sv reflect.Value)) {
	rt := rv.Type()
	for i := range rt.NumField() {
		sec := rt.Field(i).Tag.Get("koanf")
		if sec == "" || sec == "-" {
			continue
		}
		fv := rv.Field(i)
		switch fv.Kind() {
		case reflect.Struct:
			fn(sec, fv)
		case reflect.Slice:
			for j := range fv.Len() {
				fn(fmt.Sprintf("%s[%d]", sec, j), fv.Index(j))
			}
		}
	}
}

// keyField is one keyed field of a section struct.
type keyField struct {
	key   string
	index int
}

// keyFields returns the keyed fields of a section type, sorted by key.
func keyFields(t reflect.Type) []keyField {
	var fs []keyField
	for i := range t.NumField() {
		if k := t.Field(i).Tag.Get("koanf"); k != "" && k != "-" {
			fs = append(fs, keyField{key: k, index: i})
		}
	}
	sort.Slice(fs, func(a, b int) bool { return fs[a].key < fs[b].key })
	return fs
}

// tomlValue renders v as a TOML value.
func tomlValue(v any) string {
	switch x := v.(type) {
	case string:
		return quoteValue(x)
	case []string:
		s := "["
		for i, e := range x {
			if i > 0 {
				s += ", "
			}
			s += quoteValue(e)
		}
		return s + "]"
	}
	return fmt.Sprint(v)
}
