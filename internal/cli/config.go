package cli

import (
	"flag"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/wsfleet/wsfleet/pkg/config"
)

// fixedFlags are start's flags that only the command line sets: a
// configuration file or the environment cannot make a start a daemon, a
// check, or read another file.
var fixedFlags = []string{"d", "config", "check"}

// configFile is the configuration file a verb reads: its -config, else
// $WSFLEET_CONFIG, else none.
func configFile(fs *flag.FlagSet) string {
	if f := fs.Lookup("config"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	return os.Getenv(config.EnvConfig)
}

// layer sets start's flags that the command line left alone from the
// configuration file and the environment (flags > environment > file >
// defaults).
func (f *startFlags) layer() (config.Layers, []string) {
	return config.Load(f.fs, config.LoadOptions{
		File: configFile(f.fs), Environ: os.Environ(), Fixed: fixedFlags,
	})
}

// locate gives a verb that talks to a running master the -pid-file the
// configuration file or the environment names, unless its command line
// named one: so `status` finds the master that `start` started from the
// same file or environment. Only -pid-file is taken; the other keys and
// variables must still be settings (a typo is an error), but their values
// are the start command's business.
func locate(env Env, fs *flag.FlagSet, pidFile *string) []string {
	explicit := false
	fs.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == "pid-file" })
	if explicit {
		return nil
	}
	sf, err := newStartFlags(env)
	if err != nil {
		return []string{err.Error()}
	}
	only := flag.NewFlagSet("locate", flag.ContinueOnError)
	only.SetOutput(io.Discard)
	only.StringVar(pidFile, "pid-file", *pidFile, "")
	_, p := config.Load(only, config.LoadOptions{
		File: configFile(fs), Environ: os.Environ(), Fixed: fixedFlags,
		Known: func(name string) bool { return sf.fs.Lookup(name) != nil },
	})
	set := false
	only.Visit(func(*flag.Flag) { set = true })
	if !set {
		*pidFile = servicePIDFile(*pidFile, ServicePIDFile)
	}
	return p
}

// ServicePIDFile is the pid file of the master the shipped systemd unit
// runs (scripts/systemd/wsfleet.service).
const ServicePIDFile = "/run/wsfleet/master.pid"

// servicePIDFile is the pid file a verb uses when nothing named one: the
// default, unless there is none there and the systemd service's exists,
// so that `sudo -u wsfleet master status` finds the service's master.
func servicePIDFile(def, service string) string {
	if _, err := os.Lstat(def); err == nil {
		return def
	}
	if _, err := os.Lstat(service); err == nil {
		return service
	}
	return def
}

// replayArgs are the start arguments a restart replays: every flag set
// on the command line, by the file or by the environment, with its final
// value (so a restart keeps them whatever its own environment says), but
// -d, -check and -config (whose values are already in).
func replayArgs(fs *flag.FlagSet) []string {
	var out []string
	fs.Visit(func(fl *flag.Flag) {
		if !slices.Contains(fixedFlags, fl.Name) {
			out = append(out, "-"+fl.Name+"="+fl.Value.String())
		}
	})
	return out
}

// parseVerb parses a verb's args, then finds the master's -pid-file
// through the configuration file or the environment (locate); ok false
// means return code.
func parseVerb(env Env, fs *flag.FlagSet, pidFile *string, args []string) (code int, ok bool) {
	if code, ok := parse(env, fs, args); !ok {
		return code, false
	}
	name := strings.TrimPrefix(fs.Name(), env.Program.Name+" ")
	if code := usageErrors(env, name, locate(env, fs, pidFile)); code != 0 {
		return code, false
	}
	return 0, true
}
