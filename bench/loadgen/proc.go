package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// procTree returns root and all its descendants, from the ppid field of
// every /proc/PID/stat. A wsfleet master's tree is the master (with its
// embedded NATS) and its workers.
func procTree(root int) []int {
	children := make(map[int][]int)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := statFields(pid)
		if err != nil || len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// statFields returns the fields of /proc/PID/stat after the command name:
// [0] is the state, [1] ppid, [11] utime, [12] stime.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("loadgen: /proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// cpuSeconds is the user+system CPU time of the processes, summed.
func cpuSeconds(pids []int) float64 {
	var ticks int64
	for _, pid := range pids {
		f, err := statFields(pid)
		if err != nil || len(f) < 13 {
			continue // exited since the tree was read
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return float64(ticks) / clockTicks
}

// pssBytes is the proportional set size of the processes, summed: shared
// pages (the binary's text, mostly) are split between the processes that map
// them, so the sum is what the group costs the machine. It excludes kernel
// memory (socket buffers, epoll, file structures).
func pssBytes(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		kb, err := smapsField(pid, "Pss:")
		if err != nil {
			return 0, err
		}
		total += kb * 1024
	}
	return total, nil
}

func smapsField(pid int, key string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, fmt.Errorf("loadgen: pss of pid %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			fs := strings.Fields(v)
			if len(fs) > 0 {
				return strconv.ParseInt(fs[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("loadgen: pid %d: no %s in smaps_rollup", pid, key)
}

// machineBusySeconds is the CPU time, all cores, the whole machine spent
// not idle, from the first line of /proc/stat. Interrupt time is in it; a
// process's stime holds the interrupts served in its context.
func machineBusySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	var busy int64
	// user nice system idle iowait irq softirq steal (guest is in user)
	for i := 1; i <= 8 && i < len(f); i++ {
		if i == 4 || i == 5 {
			continue
		}
		n, _ := strconv.ParseInt(f[i], 10, 64)
		busy += n
	}
	return float64(busy) / clockTicks
}

// tcpKernelBytes is the memory the kernel holds for all TCP sockets' buffers
// (the "mem" of /proc/net/sockstat, in pages), machine-wide.
func tcpKernelBytes() int64 {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "TCP:") {
			continue
		}
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "mem" {
				n, _ := strconv.ParseInt(f[i+1], 10, 64)
				return n * int64(os.Getpagesize())
			}
		}
	}
	return 0
}

func machineInfo() record.Machine {
	m := record.Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	m.Kernel = readTrim("/proc/sys/kernel/osrelease")
	m.PortRange = strings.Join(strings.Fields(readTrim("/proc/sys/net/ipv4/ip_local_port_range")), "-")
	if f := strings.Fields(readTrim("/proc/loadavg")); len(f) >= 3 {
		m.Load1, _ = strconv.ParseFloat(f[0], 64)
		m.Load5, _ = strconv.ParseFloat(f[1], 64)
		m.Load15, _ = strconv.ParseFloat(f[2], 64)
	}
	for _, line := range strings.Split(readTrim("/proc/meminfo"), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			m.MemBytes = kb * 1024
		}
	}
	for _, line := range strings.Split(readTrim("/proc/cpuinfo"), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
			break
		}
	}
	for _, line := range strings.Split(readTrim("/proc/self/limits"), "\n") {
		if strings.HasPrefix(line, "Max open files") {
			f := strings.Fields(line)
			m.FileLimit = f[3] + " soft, " + f[4] + " hard"
		}
	}
	return m
}

func readTrim(path string) string {
	b, _ := os.ReadFile(filepath.Clean(path))
	return strings.TrimSpace(string(b))
}
