// Package flagx holds the flag.Value types wsfleet's commands share: byte
// sizes ("10MiB") and log levels.
package flagx

import (
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
)

// SizeValue is a byte count written as a number with an optional unit: B,
// KiB, MiB, GiB (or K, M, G, KB, MB, GB, all powers of 1024).
type SizeValue int64

// Size defines a size flag.
func Size(fs *flag.FlagSet, name string, def int64, usage string) *SizeValue {
	v := SizeValue(def)
	fs.Var(&v, name, usage)
	return &v
}

func (s *SizeValue) String() string {
	n := int64(*s)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// Set parses a size.
func (s *SizeValue) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = SizeValue(n)
	return nil
}

// ParseSize parses "1MiB", "512KiB", "4096" and the like. The result is
// positive.
func ParseSize(v string) (int64, error) {
	t := strings.TrimSpace(v)
	mult := int64(1)
	upper := strings.ToUpper(t)
	for _, u := range []struct {
		suffix string
		size   int64
	}{
		{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
		{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
		{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1},
	} {
		if strings.HasSuffix(upper, u.suffix) {
			mult = u.size
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("not a size: %q (want e.g. 1MiB, 512KiB, 4096)", v)
	}
	return n * mult, nil
}

// LevelValue is a slog level flag.
type LevelValue struct{ l *slog.Level }

// Level defines a log level flag.
func Level(fs *flag.FlagSet, name string, def slog.Level, usage string) *slog.Level {
	l := def
	fs.Var(LevelValue{&l}, name, usage)
	return &l
}

func (v LevelValue) String() string {
	if v.l == nil {
		return "info"
	}
	return strings.ToLower(v.l.String())
}

// Set parses debug, info, warn or error.
func (v LevelValue) Set(s string) error {
	switch strings.ToLower(s) {
	case "debug":
		*v.l = slog.LevelDebug
	case "info":
		*v.l = slog.LevelInfo
	case "warn", "warning":
		*v.l = slog.LevelWarn
	case "error":
		*v.l = slog.LevelError
	default:
		return fmt.Errorf("not a log level: %q (want debug, info, warn or error)", s)
	}
	return nil
}

// ListValue is a comma-separated list of strings.
type ListValue []string

// List defines a list flag.
func List(fs *flag.FlagSet, name, usage string) *[]string {
	var v ListValue
	fs.Var(&v, name, usage)
	return (*[]string)(&v)
}

func (v *ListValue) String() string { return strings.Join(*v, ",") }

// Set splits a comma-separated value; empty items are dropped.
func (v *ListValue) Set(s string) error {
	*v = (*v)[:0]
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*v = append(*v, item)
		}
	}
	return nil
}

// PrefixesValue is a comma-separated list of IP addresses or CIDR prefixes.
type PrefixesValue []netip.Prefix

// Prefixes defines a flag of addresses and prefixes.
func Prefixes(fs *flag.FlagSet, name, usage string) *[]netip.Prefix {
	var v PrefixesValue
	fs.Var(&v, name, usage)
	return (*[]netip.Prefix)(&v)
}

func (v *PrefixesValue) String() string {
	parts := make([]string, len(*v))
	for i, p := range *v {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// Set parses "127.0.0.1,10.0.0.0/8,::1".
func (v *PrefixesValue) Set(s string) error {
	var out []netip.Prefix
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return fmt.Errorf("not an IP prefix: %q", item)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return fmt.Errorf("not an IP address: %q", item)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	*v = out
	return nil
}

// SizeVar defines a size flag stored in p, whose value is its default.
func SizeVar(fs *flag.FlagSet, p *int64, name, usage string) {
	fs.Var((*SizeValue)(p), name, usage)
}

// LevelVar defines a log level flag stored in p, whose value is its
// default.
func LevelVar(fs *flag.FlagSet, p *slog.Level, name, usage string) {
	fs.Var(LevelValue{p}, name, usage)
}

// ListVar defines a list flag stored in p, whose value is its default.
func ListVar(fs *flag.FlagSet, p *[]string, name, usage string) {
	fs.Var((*ListValue)(p), name, usage)
}

// PrefixesVar defines a flag of addresses and prefixes stored in p, whose
// value is its default.
func PrefixesVar(fs *flag.FlagSet, p *[]netip.Prefix, name, usage string) {
	fs.Var((*PrefixesValue)(p), name, usage)
}
