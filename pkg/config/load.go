package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Environment variable names outside the settings.
const (
	// EnvPrefix starts every environment variable wsfleet reads:
	// WSFLEET_<FLAG> sets -flag (upper case, dashes as underscores).
	EnvPrefix = "WSFLEET_"
	// EnvConfig names the configuration file, as -config does.
	EnvConfig = "WSFLEET_CONFIG"
	// EnvReadyFD is internal: a daemon's readiness pipe (internal/cli).
	EnvReadyFD = "WSFLEET_READY_FD"
	// EnvTestPrefix starts the variables of wsfleet's own tests, which the
	// settings ignore. The worker reads two, knobs of the hand-off test that
	// change nothing when unset and are bounded when set
	// (internal/worker/handoff_test_knobs.go).
	EnvTestPrefix = "WSFLEET_E2E_"
)

// maxFile bounds a configuration file: a real one is a few KiB.
const maxFile = 1 << 20

// Source says where a setting's value came from.
type Source struct {
	Flag   string // the flag's name, without the dash
	Value  string // the value as a flag would take it
	Origin string // "WSFLEET_X" or "file F"
}

// Layers are the values a configuration file and the environment gave, in
// the order they were applied (file first, then environment; a flag set
// by both appears twice).
type Layers struct {
	// File is the configuration file read, "" for none.
	File string
	// Set are the values applied, file first.
	Set []Source
}

// LoadOptions says what Load may set.
type LoadOptions struct {
	// File is the configuration file (-config, else WSFLEET_CONFIG); ""
	// for none.
	File string
	// Environ is the environment, as os.Environ returns it.
	Environ []string
	// Known says whether name is a setting at all. A key or variable that
	// is known but has no flag on the flag set is skipped (a verb that
	// needs only -pid-file); one that is not known is an error. Nil: the
	// flag set's flags.
	Known func(name string) bool
	// Fixed are flags neither the file nor the environment may set (-d,
	// -config, -check).
	Fixed []string
}

// Load sets fs's flags that the command line did not set (fs is parsed)
// from the configuration file, then from WSFLEET_<FLAG> environment
// variables: flags over environment over file over defaults. It returns
// what it applied, and every problem, each naming the file and key or the
// variable.
func Load(fs *flag.FlagSet, o LoadOptions) (Layers, []string) {
	l := Layers{File: o.File}
	var p []string
	onCLI := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCLI[f.Name] = true })
	known := o.Known
	if known == nil {
		known = func(n string) bool { return fs.Lookup(n) != nil }
	}
	fixed := map[string]bool{}
	for _, n := range o.Fixed {
		fixed[n] = true
	}
	apply := func(name, value, origin string) {
		if onCLI[name] || fs.Lookup(name) == nil {
			return
		}
		before := fs.Lookup(name).Value.String()
		if err := fs.Set(name, value); err != nil {
			p = append(p, fmt.Sprintf("%s: -%s %q: %v", origin, name, value, err))
			_ = fs.Set(name, before) // some values (durations) zero themselves on a bad one
			return
		}
		l.Set = append(l.Set, Source{Flag: name, Value: value, Origin: origin})
	}
	if o.File != "" {
		vals, problems := ReadFile(o.File)
		p = append(p, problems...)
		for _, kv := range vals {
			switch {
			case fixed[kv.Flag]:
				p = append(p, fmt.Sprintf("config file %s: key %q cannot be set in a file", o.File, kv.Flag))
			case !known(kv.Flag):
				p = append(p, fmt.Sprintf("config file %s: unknown key %q (keys are the start command's flag names)", o.File, kv.Flag))
			default:
				apply(kv.Flag, kv.Value, "config file "+o.File+": key "+kv.Flag)
			}
		}
	}
	for _, kv := range envSettings(o.Environ) {
		name, v := kv[0], kv[1]
		flagName := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, EnvPrefix)), "_", "-")
		switch {
		case fixed[flagName]:
			p = append(p, fmt.Sprintf("environment: %s cannot be set from the environment", name))
		case !known(flagName):
			p = append(p, fmt.Sprintf("environment: unknown variable %s (no setting -%s)", name, flagName))
		default:
			apply(flagName, v, "environment: "+name)
		}
	}
	return l, p
}

// envSettings returns the WSFLEET_ variables that name settings, sorted:
// all but WSFLEET_CONFIG, WSFLEET_READY_FD and WSFLEET_E2E_*.
func envSettings(environ []string) [][2]string {
	var out [][2]string
	for _, e := range environ {
		name, v, _ := strings.Cut(e, "=")
		if !strings.HasPrefix(name, EnvPrefix) || name == EnvConfig || name == EnvReadyFD ||
			strings.HasPrefix(name, EnvTestPrefix) {
			continue
		}
		out = append(out, [2]string{name, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// EnvName is the environment variable of flag name: WSFLEET_ and the name
// in upper case, dashes as underscores.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// FileValue is one key of a configuration file, as a flag value.
type FileValue struct{ Flag, Value string }

// ReadFile reads a TOML configuration file whose keys are flag names:
// strings, integers, booleans, and arrays of them (list flags, joined with
// commas). Durations and sizes are strings ("30s", "1MiB") or integers
// (bytes). The values come sorted by key.
func ReadFile(path string) ([]FileValue, []string) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []string{fmt.Sprintf("-config: %v", err)}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, []string{fmt.Sprintf("-config %s: %v", path, err)}
	}
	if len(b) > maxFile {
		return nil, []string{fmt.Sprintf("-config %s: larger than %d bytes", path, maxFile)}
	}
	return parseFile(path, string(b))
}

func parseFile(path, text string) ([]FileValue, []string) {
	var m map[string]any
	if _, err := toml.Decode(text, &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, []string{fmt.Sprintf("config file %s: line %d: %s", path, pe.Position.Line, pe.Message)}
		}
		return nil, []string{fmt.Sprintf("config file %s: %v", path, err)}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []FileValue
	var p []string
	for _, k := range keys {
		v, err := flagValue(m[k])
		if err != nil {
			p = append(p, fmt.Sprintf("config file %s: key %q: %v", path, k, err))
			continue
		}
		out = append(out, FileValue{Flag: k, Value: v})
	}
	return out, p
}

// flagValue writes a TOML value as a flag would take it.
func flagValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case []any:
		parts := make([]string, len(x))
		for i, item := range x {
			s, err := flagValue(item)
			if err != nil {
				return "", err
			}
			if _, ok := item.([]any); ok || strings.Contains(s, ",") {
				return "", fmt.Errorf("list item %q: want a plain value without commas", s)
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		return "", errors.New("a table is not a setting (keys are flag names, at the top of the file)")
	default:
		return "", fmt.Errorf("unsupported value %v (%T): want a string, number, boolean or array", v, v)
	}
}
