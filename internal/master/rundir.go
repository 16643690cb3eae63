package master

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The master's private directory holds its pid file, control socket, log
// and saved start arguments. Before issue 11 the default directory,
// /tmp/wsfleet-<uid> when XDG_RUNTIME_DIR is unset, was used as found: a
// directory another user created there first let them plant symbolic links
// (root truncated a file of their choice to the pid) and a fake master on
// the control socket (whose answer `restart` run by root executed). Now the
// directory must be ours and closed to others, and nothing in it is opened
// through a link.

// PrivateDir makes sure dir is a directory this process may trust: it
// creates it 0700 when missing (its parents 0755), and refuses it, naming
// why, when it is a symbolic link, is not a directory, is owned by another
// user, or is writable by group or others. Only then may files in it be
// created: no one else can add, remove or swap an entry of such a
// directory.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("master: private directory %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("master: private directory %s: %w", dir, err)
	}
	return checkDir(dir)
}

// checkPrivate refuses what st describes unless it is of type kind (a
// symbolic link is never), owned by this process's user and not writable by
// group or others.
func checkPrivate(path string, st *unix.Stat_t, kind uint32) error {
	what := "directory"
	if kind != unix.S_IFDIR {
		what = "file"
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return fmt.Errorf("master: %s is a symbolic link; refusing to use it (remove it, or choose another -pid-file)", path)
	case st.Mode&unix.S_IFMT != kind:
		return fmt.Errorf("master: %s is not a %s; refusing to use it", path, what)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("master: %s is owned by uid %d, not by us (uid %d); refusing to use it: whoever owns it controls what is in it "+
			"(run this as that user, e.g. sudo -u wsfleet, or remove it, or choose another -pid-file)",
			path, st.Uid, os.Geteuid())
	case st.Mode&0o022 != 0:
		return fmt.Errorf("master: %s is writable by others (mode %04o); refusing to use it (chmod go-w it, or choose another -pid-file)",
			path, st.Mode&0o7777)
	}
	return nil
}

// openPrivate opens path, a file in a private directory, without following
// a symbolic link (O_NOFOLLOW), and refuses it unless it is a regular file
// of ours, closed to others' writes, with no other name (a hard link made
// before the directory was ours).
func openPrivate(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("master: %s is a symbolic link; refusing to open it", path)
	}
	if err != nil {
		return nil, fmt.Errorf("master: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("master: %s: %w", path, err)
	}
	if err := checkPrivate(path, &st, unix.S_IFREG); err != nil {
		f.Close()
		return nil, err
	}
	if st.Nlink > 1 {
		f.Close()
		return nil, fmt.Errorf("master: %s has %d names (hard links); refusing to use it", path, st.Nlink)
	}
	return f, nil
}

// OpenLog opens (creates 0600, appends to) a daemon's log file as
// openPrivate does; the directory it is in is the caller's to check.
func OpenLog(path string) (*os.File, error) {
	return openPrivate(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
}

// writePrivate replaces path with data atomically: a fresh temporary file
// (O_EXCL, so never an existing one) renamed over it.
func writePrivate(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("master: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("master: write %s: %w", path, err)
	}
	return nil
}
