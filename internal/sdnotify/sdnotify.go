// Package sdnotify tells systemd about the service's state (sd_notify(3)):
// READY=1 when it serves, RELOADING=1 and STOPPING=1 around a reload and a
// stop, STATUS= for `systemctl status`. It is the protocol of
// github.com/coreos/go-systemd/v22/daemon (SdNotify, sdnotify.go), written
// out here rather than taken as a dependency: one datagram on the unix
// socket named by $NOTIFY_SOCKET.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"golang.org/x/sys/unix"
)

// Env is the variable through which systemd names its socket. A service
// must not pass it on to processes that are not the main one (with
// NotifyAccess=main systemd ignores them, with =all they would lie).
const Env = "NOTIFY_SOCKET"

// The states of sd_notify(3) that wsfleet sends.
const (
	Ready     = "READY=1"
	Reloading = "RELOADING=1"
	Stopping  = "STOPPING=1"
)

// Notifier sends state changes to systemd. A nil *Notifier (no
// $NOTIFY_SOCKET: not run by systemd as Type=notify) does nothing.
type Notifier struct {
	addr *net.UnixAddr
}

// New returns a Notifier for socket, the value of $NOTIFY_SOCKET: a path,
// or '@' and the name of an abstract socket (Go's net maps the '@'). It
// returns nil for "".
func New(socket string) *Notifier {
	if socket == "" {
		return nil
	}
	return &Notifier{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}
}

// Notify sends one message of newline-separated assignments, such as
// "READY=1" or "RELOADING=1\nMONOTONIC_USEC=123". Each call opens and
// closes its own socket, as go-systemd does: state changes are rare.
func (n *Notifier) Notify(state string) error {
	if n == nil {
		return nil
	}
	conn, err := net.DialUnix(n.addr.Net, nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: %s=%s: %w", Env, n.addr.Name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: %s=%s: %w", Env, n.addr.Name, err)
	}
	return nil
}

// ReloadingState is RELOADING=1 with the MONOTONIC_USEC= that systemd
// 253 and later require with it (Type=notify-reload; older versions
// ignore it): the time of the reload on CLOCK_MONOTONIC, in microseconds.
func ReloadingState() (string, error) {
	us, err := MonotonicUsec()
	if err != nil {
		return "", err
	}
	return Reloading + "\nMONOTONIC_USEC=" + strconv.FormatInt(us, 10), nil
}

// MonotonicUsec reads CLOCK_MONOTONIC in microseconds, the clock systemd
// compares MONOTONIC_USEC with.
func MonotonicUsec() (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("sdnotify: CLOCK_MONOTONIC: %w", err)
	}
	return ts.Nano() / 1000, nil
}

// Status is a STATUS= message: one line, shown by `systemctl status`.
func Status(line string) (string, error) {
	for i := 0; i < len(line); i++ {
		if line[i] == '\n' {
			return "", errors.New("sdnotify: STATUS must be one line")
		}
	}
	return "STATUS=" + line, nil
}

// WithoutSocket returns env without $NOTIFY_SOCKET, for the environment of
// a child process.
func WithoutSocket(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if len(kv) > len(Env) && kv[:len(Env)+1] == Env+"=" {
			continue
		}
		out = append(out, kv)
	}
	return out
}
