package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// reloadOutputMax bounds the command's output kept in the result.
const reloadOutputMax = 2000

// runReload runs -reload-cmd with sh -c and times it from its start to its
// exit. A command that fails is in the result (ExitCode, Output), and the
// run fails at the end of the push phase.
func (r *runner) runReload(ctx context.Context, afterTick int) *record.Reload {
	rl := &record.Reload{Command: r.o.reloadCmd, AfterTick: afterTick}
	var logAt int64
	if r.o.reloadLog != "" {
		if st, err := os.Stat(r.o.reloadLog); err == nil {
			logAt = st.Size()
		}
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", r.o.reloadCmd)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	rl.Seconds = time.Since(t0).Seconds()
	o := strings.TrimSpace(string(out))
	if len(o) > reloadOutputMax {
		o = o[:reloadOutputMax] + "…"
	}
	rl.Output = o
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		rl.ExitCode = ee.ExitCode()
	case err != nil:
		rl.ExitCode = -1
		rl.Output = strings.TrimSpace(rl.Output + "\n" + err.Error())
	}
	if r.o.reloadLog != "" {
		if err := handoffLog(rl, r.o.reloadLog, logAt); err != nil {
			rl.Output = strings.TrimSpace(rl.Output + "\n" + err.Error())
		}
	}
	return rl
}

var (
	handoffLine = regexp.MustCompile(`msg="reload: connections handed off".*`)
	logField    = regexp.MustCompile(`\b(moved|kept|took)=(\S+)`)
)

// handoffLog adds to rl the master's hand-off lines written after offset
// at of the log file.
func handoffLog(rl *record.Reload, path string, at int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reload log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(at, io.SeekStart); err != nil {
		return fmt.Errorf("reload log: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return fmt.Errorf("reload log: %w", err)
	}
	for _, line := range handoffLine.FindAllString(string(b), -1) {
		rl.HandoffSlots++
		for _, m := range logField.FindAllStringSubmatch(line, -1) {
			switch m[1] {
			case "moved":
				n, _ := strconv.Atoi(m[2])
				rl.HandedOff += n
			case "kept":
				n, _ := strconv.Atoi(m[2])
				rl.Kept += n
			case "took":
				if d, err := time.ParseDuration(m[2]); err == nil {
					rl.HandoffMaxMS = max(rl.HandoffMaxMS, float64(d)/1e6)
				}
			}
		}
	}
	return nil
}

// reloadFigures completes the reload's record from the clients' tallies
// and says what in it is a fault.
func reloadFigures(p *record.Push, gaps *Hist, closed int) error {
	rl := p.Reload
	rl.Closed = closed
	rl.MaxGapMS, rl.P50GapMS, rl.P99GapMS = gaps.QuantileMS(1), gaps.QuantileMS(0.5), gaps.QuantileMS(0.99)
	var faults []string
	if rl.ExitCode != 0 {
		faults = append(faults, fmt.Sprintf("the reload exited %d: %s", rl.ExitCode, rl.Output))
	}
	if rl.Kept > 0 {
		faults = append(faults, fmt.Sprintf("%d connections not handed off (kept to drain)", rl.Kept))
	}
	if closed > 0 {
		faults = append(faults, fmt.Sprintf("%d connections closed", closed))
	}
	if p.Doubled > 0 {
		faults = append(faults, fmt.Sprintf("%d ticks delivered twice", p.Doubled))
	}
	if len(faults) > 0 {
		return fmt.Errorf("reload: %s", strings.Join(faults, "; "))
	}
	return nil
}
