// Package version is the build of this program: the version the Makefile
// stamps in (git describe) or, for a plain `go build`, "devel" and the
// module's VCS revision, and the Go version it was built with.
package version

import (
	"runtime"
	"runtime/debug"
)

// stamped is set by the Makefile's build:
//
//	-ldflags "-X github.com/wsfleet/wsfleet/internal/version.stamped=$(git describe --tags --always --dirty)"
//
// It is a variable only because -X can set nothing else; nothing writes it
// at run time.
var stamped string

// Build describes this program's build.
type Build struct {
	// Version is the stamped version, or "devel" with the VCS revision
	// (and "-dirty" for uncommitted changes) when the build was not
	// stamped.
	Version string `json:"version"`
	// GoVersion is the Go release that built it, e.g. "go1.26.0".
	GoVersion string `json:"go_version"`
}

// Get returns this program's build.
func Get() Build {
	return Build{Version: versionOf(stamped, readSettings()), GoVersion: runtime.Version()}
}

// String is "VERSION (GOVERSION GOOS/GOARCH)".
func (b Build) String() string {
	return b.Version + " (" + b.GoVersion + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

func readSettings() map[string]string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	out := map[string]string{}
	for _, s := range bi.Settings {
		out[s.Key] = s.Value
	}
	return out
}

// versionOf is the version from a stamp and the build's settings.
func versionOf(stamp string, settings map[string]string) string {
	if stamp != "" {
		return stamp
	}
	v := "devel"
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev
		if settings["vcs.modified"] == "true" {
			v += "-dirty"
		}
	}
	return v
}
