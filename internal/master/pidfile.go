package master

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotRunning: no master holds the pid file.
var ErrNotRunning = errors.New("master: not running")

// ErrAlreadyRunning: another master holds the pid file.
type ErrAlreadyRunning struct {
	PID  int
	Path string
}

func (e *ErrAlreadyRunning) Error() string {
	return fmt.Sprintf("master: already running (pid %d, pid file %s)", e.PID, e.Path)
}

// DefaultPIDFile is $XDG_RUNTIME_DIR/wsfleet/master.pid, or
// /tmp/wsfleet-<uid>/master.pid without XDG_RUNTIME_DIR.
func DefaultPIDFile() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "wsfleet", "master.pid")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("wsfleet-%d", os.Getuid()), "master.pid")
}

// SocketPath is the control socket beside a pid file.
func SocketPath(pidFile string) string {
	return strings.TrimSuffix(pidFile, ".pid") + ".sock"
}

// pidFile is a pid file this process holds locked. The lock (flock) is the
// truth: it dies with the process, so a pid file left by a killed master is
// recognised as stale and taken over.
type pidFile struct {
	path string
	f    *os.File
}

// lockPIDFile creates or takes over path in its private directory (see
// PrivateDir), locks it, writes our pid and saves startArgs beside it for
// restart (see SavedStart).
func lockPIDFile(path string, startArgs []string) (*pidFile, error) {
	if err := PrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	f, err := openPrivate(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("master: pid file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		pid, _ := readPID(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &ErrAlreadyRunning{PID: pid, Path: path}
		}
		return nil, fmt.Errorf("master: lock pid file %s: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("master: pid file: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("master: pid file: %w", err)
	}
	p := &pidFile{path: path, f: f}
	if err := saveStart(path, startArgs); err != nil {
		p.remove()
		return nil, err
	}
	return p, nil
}

// remove deletes the file, then releases the lock: a new master that takes
// the lock after us creates a fresh file.
func (p *pidFile) remove() {
	os.Remove(ArgsPath(p.path))
	os.Remove(p.path)
	p.f.Close()
}

func readPID(f *os.File) (int, error) {
	b := make([]byte, 32)
	n, err := f.ReadAt(b, 0)
	if n == 0 && err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b[:n])))
}

// RunningPID returns the pid of the master that holds path, or ErrNotRunning
// when none does (no file, or a stale one, which the next start takes over).
// A pid file whose directory or file another user could have made is
// refused with an error saying why (see PrivateDir): whoever answers on
// that control socket is not to be trusted.
func RunningPID(path string) (int, error) {
	err := checkDir(filepath.Dir(path))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, ErrNotRunning
	}
	if err != nil {
		return 0, err
	}
	f, err := openPrivate(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, ErrNotRunning
	}
	if err != nil {
		return 0, fmt.Errorf("master: pid file: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err == nil {
		// Nobody holds it: a master was killed.
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return 0, ErrNotRunning
	}
	pid, err := readPID(f)
	if err != nil {
		return 0, fmt.Errorf("master: pid file %s: %w", path, err)
	}
	return pid, nil
}
