package master

import (
	"testing"
	"testing/fstest"
)

// TestCgroupMemoryLimit: the smallest limit on the way from the process's
// cgroup to the mount, v2 before v1, a container's own cgroup at the
// mount's root when the host's path is not there, and none.
func TestCgroupMemoryLimit(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name string
		fs   fstest.MapFS
		want int64
	}{
		{"v2 leaf", fstest.MapFS{
			"proc/self/cgroup":                     file("0::/app/wsfleet\n"),
			"sys/fs/cgroup/app/wsfleet/memory.max": file("1073741824\n"),
			"sys/fs/cgroup/app/memory.max":         file("max\n"),
		}, 1 << 30},
		{"v2 parent smaller", fstest.MapFS{
			"proc/self/cgroup":                     file("0::/app/wsfleet\n"),
			"sys/fs/cgroup/app/wsfleet/memory.max": file("max\n"),
			"sys/fs/cgroup/app/memory.max":         file("536870912\n"),
		}, 512 << 20},
		{"v2 none", fstest.MapFS{
			"proc/self/cgroup":           file("0::/\n"),
			"sys/fs/cgroup/memory.max":   file("max\n"),
			"sys/fs/cgroup/cgroup.procs": file("1\n"),
		}, 0},
		{"v1 in a container", fstest.MapFS{
			"proc/self/cgroup":                           file("4:memory:/process_api/7c45\n0::/\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("2147483648\n"),
		}, 2 << 30},
		{"v1 unlimited", fstest.MapFS{
			"proc/self/cgroup":                           file("4:cpu,memory:/\n0::/\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("9223372036854771712\n"),
		}, 0},
		{"no cgroup file", fstest.MapFS{}, 0},
	} {
		if got := cgroupMemoryLimit(tc.fs); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestMemoryLimitFor: sizes, none, and bad values.
func TestMemoryLimitFor(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want int64
	}{{"512MiB", 512 << 20}, {"0", 0}, {"off", 0}, {"1GiB", 1 << 30}} {
		if got, err := MemoryLimitFor(tc.v, 4); err != nil || got != tc.want {
			t.Errorf("%q: %d, %v; want %d", tc.v, got, err, tc.want)
		}
	}
	for _, v := range []string{"lots", "-1", ""} {
		if _, err := MemoryLimitFor(v, 4); err == nil {
			t.Errorf("%q: no error", v)
		}
	}
	if _, err := MemoryLimitFor("auto", 4); err != nil {
		t.Errorf("auto: %v", err)
	}
}
