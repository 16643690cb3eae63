package master

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/wsfleet/wsfleet/internal/flagx"
)

// MemoryLimitFor is each of count workers' Go memory limit (GOMEMLIMIT) for
// the -memory-limit value v: a size, "0" for none, or "auto": three
// quarters of this process's cgroup memory limit shared among the workers,
// none when the cgroup sets no limit. The quarter left is for the master,
// the embedded NATS server and what the kernel charges the cgroup for the
// sockets' buffers. A soft limit makes a worker's GC work harder as it
// nears it, rather than the kernel's OOM killer ending it (issue 10).
func MemoryLimitFor(v string, count int) (int64, error) {
	switch v {
	case "auto":
		lim := cgroupMemoryLimit(os.DirFS("/"))
		if lim <= 0 {
			return 0, nil
		}
		return lim * 3 / 4 / int64(max(count, 1)), nil
	case "0", "none", "off":
		return 0, nil
	}
	n, err := flagx.ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("want a size (e.g. 512MiB), 0 or auto: %w", err)
	}
	return n, nil
}

// cgroupMemoryLimit is the smallest memory limit set on this process's
// cgroup or its parents (cgroup v2 memory.max, else v1
// memory.limit_in_bytes), in bytes; 0 when none is. root is the file
// system's root. Inside a container the cgroup path /proc/self/cgroup
// names may not exist under the mount (it is the host's path): the mount's
// root, the container's own cgroup, is read then.
func cgroupMemoryLimit(root fs.FS) int64 {
	raw, err := fs.ReadFile(root, "proc/self/cgroup")
	if err != nil {
		return 0
	}
	v2, v1 := cgroupPaths(raw)
	if lim := smallestLimit(root, "sys/fs/cgroup", v2, "memory.max"); lim > 0 {
		return lim
	}
	return smallestLimit(root, "sys/fs/cgroup/memory", v1, "memory.limit_in_bytes")
}

// cgroupPaths picks the v2 (hierarchy 0) and v1 memory paths out of
// /proc/self/cgroup.
func cgroupPaths(raw []byte) (v2, v1 string) {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		ctrls, p, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		switch {
		case id == "0" && ctrls == "":
			v2 = p
		case strings.Contains(","+ctrls+",", ",memory,"):
			v1 = p
		}
	}
	return v2, v1
}

// smallestLimit reads file in mount/cg and each parent up to mount, and
// returns the smallest limit found (0: none).
func smallestLimit(root fs.FS, mount, cg, file string) int64 {
	dir := path.Join(mount, cg)
	if _, err := fs.Stat(root, dir); err != nil {
		dir = mount
	}
	var lim int64
	for {
		if n, err := readLimit(root, path.Join(dir, file)); err == nil && n > 0 && (lim == 0 || n < lim) {
			lim = n
		}
		if dir == mount || !strings.HasPrefix(dir, mount+"/") {
			return lim
		}
		dir = path.Dir(dir)
	}
}

// noLimit: cgroup v1 writes "no limit" as a number near 2^63.
const noLimit = 1 << 60

// readLimit reads one limit file: a byte count, or "max" (none: 0).
func readLimit(root fs.FS, name string) (int64, error) {
	b, err := fs.ReadFile(root, name)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("master: %s: %w", name, err)
	}
	if n >= noLimit {
		return 0, nil
	}
	if n <= 0 {
		return 0, errors.New("master: " + name + ": not positive")
	}
	return n, nil
}
