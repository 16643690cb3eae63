package master

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// SavedStart is what `restart` replays: the start command's arguments as
// given (without -d) and the folder they were given in, so that relative
// paths mean the same. The master writes it into its private directory
// itself; `restart` reads it from there and never takes arguments from
// the control socket, whose answer whoever listens there could forge
// (issue 11: a fake master's -worker-bin ran as root).
type SavedStart struct {
	Dir  string   `json:"dir"`
	Args []string `json:"args"`
}

// maxSavedStart bounds the saved arguments file: a command line is far
// smaller.
const maxSavedStart = 1 << 20

// ArgsPath is the saved start arguments file beside a pid file.
func ArgsPath(pidFile string) string {
	return strings.TrimSuffix(pidFile, ".pid") + ".args"
}

// saveStart writes args, and the working directory, to ArgsPath(pidFile).
func saveStart(pidFile string, args []string) error {
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("master: save start arguments: %w", err)
	}
	b, err := json.Marshal(SavedStart{Dir: wd, Args: args})
	if err != nil {
		return fmt.Errorf("master: save start arguments: %w", err)
	}
	return writePrivate(ArgsPath(pidFile), b)
}

// LoadStart reads the start arguments the master holding pidFile saved,
// after checking, as the master did, that their directory and file are
// ours and closed to others.
func LoadStart(pidFile string) (SavedStart, error) {
	var s SavedStart
	if err := checkDir(filepath.Dir(pidFile)); err != nil {
		return s, err
	}
	path := ArgsPath(pidFile)
	f, err := openPrivate(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return s, fmt.Errorf("master: no saved start arguments (%s): was the running master started by a version without them? Stop it and start it again", path)
	}
	if err != nil {
		return s, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSavedStart+1))
	if err != nil {
		return s, fmt.Errorf("master: %s: %w", path, err)
	}
	if len(b) > maxSavedStart {
		return s, fmt.Errorf("master: %s: larger than %d bytes", path, maxSavedStart)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("master: %s: %w", path, err)
	}
	return s, nil
}

// checkDir is PrivateDir's check of an existing directory, creating
// nothing.
func checkDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("master: private directory %s: %w", dir, err)
	}
	return checkPrivate(dir, &st, unix.S_IFDIR)
}
