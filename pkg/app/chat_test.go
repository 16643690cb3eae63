package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestChatMembersPaged: the members of a room whose names add up to far
// more than a page come in pages of at most membersPageBytes of names,
// each name once and in order, following next.
func TestChatMembersPaged(t *testing.T) {
	w := newMemWorker()
	w.maxRooms = 1
	ch := &Chat{log: slog.New(slog.DiscardHandler)}
	ch.StartWorker(context.Background(), w)
	var want []string
	for i := range 300 {
		c := w.conn(fmt.Sprint("c", i))
		name := fmt.Sprintf("%03d%s", i, strings.Repeat("😀", maxChatName-3))
		want = append(want, name)
		ch.OnMessage(c, Text(fmt.Sprintf(`{"type":"join","room":"big","name":%q}`, name)))
	}
	asker := w.conn("asker")
	var got []string
	req := `{"type":"members","room":"big"}`
	for pages := 0; ; pages++ {
		if pages > len(want) {
			t.Fatal("paging does not end")
		}
		before := len(asker.sent)
		ch.OnMessage(asker, Text(req))
		if len(asker.sent) != before+1 {
			t.Fatalf("%d replies to %s", len(asker.sent)-before, req)
		}
		raw := asker.sent[before]
		var m struct {
			Type  string
			Names []string
			Count int
			Next  string
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.Type != "members" || m.Count != len(want) {
			t.Fatalf("reply %s: %v", raw, err)
		}
		if len(raw) > membersPageBytes+1024 {
			t.Fatalf("a page of %d bytes", len(raw))
		}
		got = append(got, m.Names...)
		if m.Next == "" {
			break
		}
		if m.Next != m.Names[len(m.Names)-1] {
			t.Fatalf("next %q is not the page's last name", m.Next)
		}
		req = fmt.Sprintf(`{"type":"members","room":"big","after":%q}`, m.Next)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paged names: %d, want %d, in order", len(got), len(want))
	}
}
