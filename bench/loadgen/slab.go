package main

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// slabSnap is the kernel's slab caches at one moment, by name.
type slabSnap map[string]slabUse

type slabUse struct{ bytes, objs, size int64 }

// readSlabs reads /proc/slabinfo (root only; nil without it). A cache's
// memory is its slabs × pages per slab, what meminfo's Slab sums.
func readSlabs() slabSnap {
	f, err := os.Open("/proc/slabinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	out := make(slabSnap)
	page := int64(os.Getpagesize())
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "slabinfo") {
			continue
		}
		// name active num objsize perslab pagesperslab : tunables l b s : slabdata active num shared
		fs := strings.Fields(line)
		if len(fs) < 15 {
			continue
		}
		active, _ := strconv.ParseInt(fs[1], 10, 64)
		size, _ := strconv.ParseInt(fs[3], 10, 64)
		pps, _ := strconv.ParseInt(fs[5], 10, 64)
		slabs, _ := strconv.ParseInt(fs[14], 10, 64)
		u := out[fs[0]] // some names repeat (per-node or merged caches)
		out[fs[0]] = slabUse{bytes: u.bytes + slabs*pps*page, objs: u.objs + active, size: size}
	}
	return out
}

// slabGrowth is the growth from a to b of the n caches that grew most.
func slabGrowth(a, b slabSnap, n int) []record.SlabCache {
	var out []record.SlabCache
	for name, u := range b {
		if d := u.bytes - a[name].bytes; d > 0 {
			out = append(out, record.SlabCache{Name: name, Bytes: d, Objects: u.objs - a[name].objs, ObjSize: u.size})
		}
	}
	slices.SortFunc(out, func(x, y record.SlabCache) int { return int(y.Bytes - x.Bytes) })
	return out[:min(n, len(out))]
}

// slabBytes is meminfo's Slab, in bytes.
func slabBytes() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Slab:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
