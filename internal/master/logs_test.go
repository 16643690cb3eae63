package master

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestCopyLinesText(t *testing.T) {
	in := "a=1\n" + strings.Repeat("x", maxLogLine+10) + "\nlast"
	var out bytes.Buffer
	copyLines(strings.NewReader(in), &out, false, slog.New(slog.NewTextHandler(&out, nil)))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 || lines[0] != "a=1" || len(lines[1]) != maxLogLine || len(lines[2]) != 10 || lines[3] != "last" {
		t.Fatalf("got %d lines: %q...", len(lines), out.String()[:40])
	}
}

func TestCopyLinesJSONWrapsTheRest(t *testing.T) {
	in := `{"msg":"ok"}` + "\npanic: boom\n\n" + `{"msg":"x"` + "\n"
	var out bytes.Buffer
	copyLines(strings.NewReader(in), &out, true, slog.New(slog.NewJSONHandler(&out, nil)).With("worker", 3))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %q", out.String())
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
	}
	if !strings.Contains(lines[1], `"line":"panic: boom"`) || !strings.Contains(lines[1], `"worker":3`) {
		t.Fatalf("wrapped line: %s", lines[1])
	}
}
