package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/v2"
	gotoml "github.com/pelletier/go-toml/v2"
)

// EnvPrefix starts every environment variable Load reads:
// PCAPDAEMON_<SECTION>_<KEY>, e.g. PCAPDAEMON_REDIS_AUTH.
const EnvPrefix = "PCAPDAEMON_"

// Loader loads a Config. The zero value reads nothing but the defaults;
// Load(args, environ) is the usual entry point.
type Loader struct {
	// Args are the command-line arguments after the program name (or
	// after the sub-command's name).
	Args []string
	// Environ is the environment as "KEY=value" strings (os.Environ()).
	Environ []string
	// Output receives the usage text (-h) and flag errors; nil means
	// os.Stderr.
	Output io.Writer
	// Command is the sub-command these arguments belong to, for the usage
	// text ("check"); "" is the daemon itself.
	Command string
}

// Load reads the configuration from defaults, the -config file, the
// environment and the flags in args, validates it and returns it. With -h it
// prints the usage and returns an error matching flag.ErrHelp.
func Load(args, environ []string) (*Config, error) {
	return Loader{Args: args, Environ: environ}.Load()
}

// Load is the package-level Load with l's settings. It reads the -config
// file and nothing else of the host: see LoadForHost.
func (l Loader) Load() (*Config, error) {
	c, name, problems, err := l.load()
	if err != nil {
		return nil, err
	}
	if c == nil || len(problems) > 0 {
		return nil, problemsError(name, problems)
	}
	return c, nil
}

// LoadForHost loads the configuration as Load does and checks the host
// with CheckHost(o), as the daemon does at start and on SIGHUP. It reports
// the problems of both steps at once: the host is checked even when some
// values are wrong (as long as the layers could be decoded), so that one
// run lists everything to fix.
func (l Loader) LoadForHost(o HostOptions) (*Config, []HostNote, error) {
	c, name, problems, err := l.load()
	if err != nil {
		return nil, nil, err
	}
	if c == nil {
		return nil, nil, problemsError(name, problems)
	}
	notes, host := c.checkHost(o)
	problems = append(problems, host...)
	if len(problems) > 0 {
		return nil, notes, problemsError(name, problems)
	}
	return c, notes, nil
}

// load parses the flags, reads the file and decodes the layers. err is a
// failure that is not about a key (flags, the file, its syntax); problems
// are the keys found wrong, in the layers and by Validate; c is nil when
// the problems prevent decoding. name is the file, or "defaults".
func (l Loader) load() (c *Config, name string, problems []error, err error) {
	out := l.Output
	if out == nil {
		out = os.Stderr
	}
	fs, path := newFlagSet(out, l.Command)
	if err := fs.Parse(l.Args); err != nil {
		return nil, "", nil, &UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return nil, "", nil, &UsageError{Err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	name = *path
	if name == "" {
		name = "defaults"
	}
	var data []byte
	if *path != "" {
		b, err := os.ReadFile(*path)
		if err != nil {
			return nil, name, nil, fmt.Errorf("config: %w", err)
		}
		data = b
	}
	flags := make(map[string]any)
	fs.Visit(func(f *flag.Flag) {
		for _, fd := range flagDefs() {
			if fd.name == f.Name {
				flags[fd.key] = f.Value.(flag.Getter).Get()
				for _, k := range fd.implies {
					flags[k] = true
				}
			}
		}
	})
	c, problems, err = decode(*path, data, l.Environ, flags)
	if err != nil || c == nil {
		return nil, name, problems, err
	}
	var v validator
	c.validate(&v)
	return c, name, append(problems, v.errs...), nil
}

// UsageError is a command line that Load cannot parse; with -h it wraps
// flag.ErrHelp.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return "config: flags: " + e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// ProblemsError lists every problem found in a configuration, each naming
// its key. Load, LoadForHost, Validate and CheckHost return one.
type ProblemsError struct {
	// File is the configuration file, or "defaults" when none was given.
	File string
	// Problems are *KeyError and *UnknownKeyError values, in the order
	// found.
	Problems []error
}

func (e *ProblemsError) Error() string {
	return "config: " + e.File + ": " + errors.Join(e.Problems...).Error()
}

// Unwrap returns the problems, so that errors.As finds each.
func (e *ProblemsError) Unwrap() []error { return e.Problems }

// problemsError lists problems under the file's name.
func problemsError(name string, problems []error) error {
	return &ProblemsError{File: name, Problems: problems}
}

// flagDef maps one of the seed's flags to its key. Setting a flag also sets
// the keys in implies (a -redis* flag means "listen on Redis").
type flagDef struct {
	name, key, usage string
	implies          []string
}

// flagDefs returns the seed's flags, with the seed's usage text.
func flagDefs() []flagDef {
	return []flagDef{
		{name: "cshost", key: "cloudshark.host", usage: "cloudshark host"},
		{name: "csscheme", key: "cloudshark.scheme", usage: "cloudshark scheme http|https"},
		{name: "cstoken", key: "cloudshark.token", usage: "cloudshark api token"},
		{name: "csport", key: "cloudshark.port", usage: "cloudshark port (0: the scheme's)"},
		{name: "cstimeout", key: "cloudshark.timeout", usage: "cloudshark upload timeout in seconds"},
		{name: "redisnode", key: "redis.host", usage: "Hostname|IP of redis server (turns the Redis listener on)", implies: []string{"redis.listen"}},
		{name: "redisport", key: "redis.port", usage: "Port of redis server (turns the Redis listener on)", implies: []string{"redis.listen"}},
		{name: "redischannel", key: "redis.channel", usage: "Redis channel to subscribe to (turns the Redis listener on)", implies: []string{"redis.listen"}},
		{name: "upload", key: "cloudshark.upload", usage: "Upload pcap to Cloudshark"},
		{name: "writelocal", key: "general.writelocal", usage: "Write pcap files locally, in -destdir"},
		{name: "destdir", key: "general.localdir", usage: "Directory to store locally written pcap files in"},
		{name: "maxpackets", key: "general.maxpackets", usage: "Maximum number of packets per capture"},
	}
}

// newFlagSet declares the seed's flags, with the built-in defaults shown.
// Values only matter when a flag is given: fs.Visit finds those.
func newFlagSet(out io.Writer, command string) (*flag.FlagSet, *string) {
	name := strings.TrimSpace("pcapdaemon " + command)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	d := defaults()
	known := knownKeys()
	path := fs.String("config", "", "Path to configuration file (TOML). No default.")
	for _, fd := range flagDefs() {
		switch known[fd.key].Kind() {
		case reflect.String:
			v, _ := d[fd.key].(string)
			fs.String(fd.name, v, fd.usage)
		case reflect.Bool:
			fs.Bool(fd.name, false, fd.usage)
		default:
			v, _ := d[fd.key].(int)
			fs.Int(fd.name, v, fd.usage)
		}
	}
	fs.Usage = func() {
		if command == "check" {
			fmt.Fprintf(out, "Usage: pcapdaemon check [flags]\n\n"+
				"Loads and validates the configuration exactly as the daemon would, without\n"+
				"creating directories or opening sockets, prints the effective settings\n"+
				"(secrets masked) and exits 0, or lists every problem with its key and\n"+
				"exits 1. The flags are the daemon's.\n\n")
		} else {
			fmt.Fprintf(out, "Usage: pcapdaemon [flags]\n"+
				"       pcapdaemon check [flags]   validate the configuration, print it with secrets masked\n"+
				"       pcapdaemon bpf|capture|request|interfaces|version [-h] ...\n\n")
		}
		fmt.Fprintf(out, "Flags given override environment variables %s<SECTION>_<KEY>\n"+
			"(e.g. %sREDIS_AUTH), which override the -config file (TOML),\n"+
			"which overrides the built-in defaults.\n\n", EnvPrefix, EnvPrefix)
		fs.PrintDefaults()
	}
	return fs, path
}

// bytesProvider is a koanf.Provider over an in-memory file.
type bytesProvider []byte

func (b bytesProvider) ReadBytes() ([]byte, error) { return b, nil }
func (b bytesProvider) Read() (map[string]any, error) {
	return nil, errors.New("config: bytesProvider needs a parser")
}

// parse merges the layers (defaults, file data, environment, flags), checks
// keys and types and decodes the result. It does not validate.
func parse(path string, data []byte, environ []string, flags map[string]any) (*Config, error) {
	c, problems, err := decode(path, data, environ, flags)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		name := path
		if name == "" {
			name = "config"
		}
		return nil, problemsError(name, problems)
	}
	return c, nil
}

// decode merges the layers and decodes them. problems are the keys found
// wrong; c is nil when they prevent decoding (a wrong type or shape), not
// when the only problems are unknown keys or unusable environment
// variables, which are left out. err is a failure that is not about a key.
func decode(path string, data []byte, environ []string, flags map[string]any) (c *Config, problems []error, err error) {
	ko := koanf.New(".")
	if err := ko.Load(confmap.Provider(defaults(), "."), nil); err != nil {
		return nil, nil, fmt.Errorf("config: defaults: %w", err)
	}
	name := path
	if name == "" {
		name = "config"
	}
	set := make(map[string]bool) // keys given by the user, in any layer
	if len(data) > 0 {
		fk := koanf.New(".")
		if err := fk.Load(bytesProvider(data), toml.Parser()); err != nil {
			var de *gotoml.DecodeError
			if errors.As(err, &de) {
				row, col := de.Position()
				return nil, nil, fmt.Errorf("config: %s:%d:%d: %w", name, row, col, err)
			}
			return nil, nil, fmt.Errorf("config: %s: %w", name, err)
		}
		for _, k := range fk.Keys() {
			set[k] = true
		}
		if err := ko.Merge(fk); err != nil {
			return nil, nil, fmt.Errorf("config: %s: %w", name, err)
		}
	}
	var errs []error
	if len(environ) > 0 {
		ek := koanf.New(".")
		err := ek.Load(env.Provider(".", env.Opt{
			Prefix:        EnvPrefix,
			EnvironFunc:   func() []string { return environ },
			TransformFunc: envTransform(&errs),
		}), nil)
		if err != nil {
			return nil, nil, fmt.Errorf("config: environment: %w", err)
		}
		for _, k := range ek.Keys() {
			set[k] = true
		}
		if err := ko.Merge(ek); err != nil {
			return nil, nil, fmt.Errorf("config: environment: %w", err)
		}
	}
	for k, v := range flags {
		set[k] = true
		if err := ko.Set(k, v); err != nil {
			return nil, nil, fmt.Errorf("config: flag for %s: %w", k, err)
		}
	}
	raw := ko.Raw()
	decodable := true
	for _, e := range append(checkKeys(raw), checkTypes(raw)...) {
		var uk *UnknownKeyError
		if !errors.As(e, &uk) {
			decodable = false
		}
		errs = append(errs, e)
	}
	if !decodable {
		return nil, errs, nil
	}
	c = new(Config)
	err = ko.UnmarshalWithConf("", c, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		TagName: "koanf",
	}})
	if err != nil {
		return nil, errs, fmt.Errorf("config: %s: %w", name, err)
	}
	c.File = path
	c.derive(set)
	return c, errs, nil
}

// derive fills the values whose default depends on other keys.
func (c *Config) derive(set map[string]bool) {
	if !set["general.writelocal"] {
		// With no sink configured at all, write to ./captures: the daemon
		// runs with no config.
		c.General.WriteLocal = !c.Cloudshark.Upload && !c.S3.Upload
	}
	if c.Redis.ResultsChannel == "" && c.Redis.Channel != "" {
		c.Redis.ResultsChannel = c.Redis.Channel + ResultsSuffix
	}
	c.localDirDefault = !set["general.localdir"]
}

// envTransform maps PCAPDAEMON_SECTION_KEY=value to ("section.key", typed
// value). Variables of an unknown section are ignored (PCAPDAEMON_ may
// prefix other settings); an unknown key in a known section, or a value of
// the wrong type, is appended to errs.
func envTransform(errs *[]error) func(string, string) (string, any) {
	known := knownKeys()
	return func(name, val string) (string, any) {
		rest := strings.ToLower(strings.TrimPrefix(name, EnvPrefix))
		sec, key, ok := strings.Cut(rest, "_")
		if !ok {
			return "", nil
		}
		if isTableArray(sec) {
			*errs = append(*errs, &KeyError{Key: name, Reason: "[[" + sec + "]] cannot be set from the environment"})
			return "", nil
		}
		inSection := false
		for k := range known {
			if strings.HasPrefix(k, sec+".") {
				inSection = true
				break
			}
		}
		if !inSection {
			return "", nil
		}
		path := sec + "." + key
		t, ok := known[path]
		if !ok {
			*errs = append(*errs, &UnknownKeyError{Key: name, Suggestion: suggest(path, known, nil)})
			return "", nil
		}
		v, err := convertEnv(t, val)
		if err != nil {
			*errs = append(*errs, &KeyError{Key: name, Value: val, Reason: err.Error()})
			return "", nil
		}
		return path, v
	}
}

// convertEnv converts an environment string to the kind of t. A list is
// comma separated.
func convertEnv(t reflect.Type, s string) (any, error) {
	switch t.Kind() {
	case reflect.String:
		return s, nil
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, errors.New("must be true or false")
		}
		return b, nil
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, errors.New("must be an integer")
		}
		return n, nil
	case reflect.Slice:
		var l []any
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				l = append(l, p)
			}
		}
		return l, nil
	}
	return nil, fmt.Errorf("unsupported type %s", t)
}

// checkTypes returns a *KeyError for every known key whose value has the
// wrong TOML type (a string for a number, a float for an integer, ...).
func checkTypes(raw map[string]any) []error {
	known := knownKeys()
	var errs []error
	check := func(key string, t reflect.Type, v any) {
		if reason := typeMismatch(t, v); reason != "" {
			errs = append(errs, &KeyError{Key: key, Value: v, Reason: reason})
		}
	}
	for _, sec := range sortedKeys(raw) {
		switch s := raw[sec].(type) {
		case map[string]any:
			for _, k := range sortedKeys(s) {
				if t, ok := known[sec+"."+k]; ok {
					check(sec+"."+k, t, s[k])
				}
			}
		case []any:
			for i, e := range s {
				m, _ := e.(map[string]any)
				for _, k := range sortedKeys(m) {
					if t, ok := known[sec+"."+k]; ok {
						check(fmt.Sprintf("%s[%d].%s", sec, i, k), t, m[k])
					}
				}
			}
		}
	}
	return errs
}

// typeMismatch says why v cannot be a value of type t, or "".
func typeMismatch(t reflect.Type, v any) string {
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("must be a string, found %s", tomlType(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("must be true or false, found %s", tomlType(v))
		}
	case reflect.Int, reflect.Int64:
		switch n := v.(type) {
		case int, int64:
		case float64:
			if n != float64(int64(n)) {
				return "must be an integer, found a fraction"
			}
		default:
			return fmt.Sprintf("must be an integer, found %s", tomlType(v))
		}
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			if _, ok := v.([]string); ok {
				return ""
			}
			return fmt.Sprintf("must be a list of strings, found %s", tomlType(v))
		}
		for _, e := range l {
			if _, ok := e.(string); !ok {
				return fmt.Sprintf("must be a list of strings, found an element of type %s", tomlType(e))
			}
		}
	}
	return ""
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64:
		return "an integer"
	case float64:
		return "a float"
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T", v)
}
