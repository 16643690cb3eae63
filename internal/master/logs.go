package master

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// maxLogLine bounds one line of a worker's output as the master copies it:
// a longer one is cut into pieces of this size.
const maxLogLine = 64 << 10

// workerOutput returns the write end of a pipe for a worker's stdout and
// stderr, whose lines the master copies into its own log output until the
// worker (and whatever inherited the pipe) closes it. The master thus owns
// the only handle on the log file, and reopening it (reopen-logs) applies
// to the workers' lines too. The caller closes w once the worker started.
func (m *Master) workerOutput(slot int) (w *os.File, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("master: worker %d output pipe: %w", slot, err)
	}
	log := m.log.With("worker", slot)
	m.wg.Go(func() {
		defer r.Close()
		copyLines(r, m.logOut, m.opts.LogFormat == "json", log)
	})
	return w, nil
}

// copyLines copies r to out line by line, each line one Write, so that
// lines of several workers and the master never mix. With asJSON, a line
// that is not a JSON object (a panic's trace, a runtime message) is
// logged through log as the "line" of a "worker output" record, so that
// every line of the output is JSON.
func copyLines(r io.Reader, out io.Writer, asJSON bool, log *slog.Logger) {
	br := bufio.NewReaderSize(r, maxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			whole := line[len(line)-1] == '\n'
			body := bytes.TrimRight(line, "\r\n")
			switch {
			case asJSON && !(whole && len(body) > 0 && body[0] == '{' && json.Valid(body)):
				log.Warn("worker output", "line", string(body))
			case whole:
				_, _ = out.Write(line)
			default: // cut at maxLogLine, or the last line without a newline
				_, _ = out.Write(append(line, '\n'))
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// reopenLogs reopens the daemon's log file (OpReopenLogs).
func (m *Master) reopenLogs() (any, error) {
	if m.opts.ReopenLog == nil {
		return nil, errors.New("master: this master logs to its standard error, not to a -log-file (it is not a daemon): nothing to reopen")
	}
	path, err := m.opts.ReopenLog()
	if err != nil {
		return nil, fmt.Errorf("master: reopen %s: %w", path, err)
	}
	m.log.Info("log file reopened", "path", path)
	return path, nil
}
