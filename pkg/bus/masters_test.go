package bus

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGatherMasters: every master answers on its inbox; the gather ends as
// soon as the expected count is in, and otherwise at the window's end with
// what came. Another cluster's masters (prefix) are not asked.
func TestGatherMasters(t *testing.T) {
	e := startTestServer(t)
	asker := connect(t, e.ClientURL(), "c1")
	for _, name := range []string{"a", "b"} {
		c := connect(t, e.ClientURL(), "c1")
		if _, err := c.ServeMasters(func(q []byte) []byte { return []byte(name + ":" + string(q)) }); err != nil {
			t.Fatal(err)
		}
	}
	other := connect(t, e.ClientURL(), "c2")
	if _, err := other.ServeMasters(func([]byte) []byte { return []byte("other cluster") }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := asker.GatherMasters(context.Background(), []byte("q"), 2, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("gathering 2 expected answers took %s: it should end when they are in", el)
	}
	var s []string
	for _, b := range got {
		s = append(s, string(b))
	}
	slices.Sort(s)
	if !slices.Equal(s, []string{"a:q", "b:q"}) {
		t.Errorf("answers %q", s)
	}
	window := 300 * time.Millisecond
	start = time.Now()
	got, err = asker.GatherMasters(context.Background(), []byte("q"), 0, window)
	if err != nil || len(got) != 2 {
		t.Fatalf("without an expected count: %d answers, %v", len(got), err)
	}
	if el := time.Since(start); el < window {
		t.Errorf("without an expected count the gather ended after %s, before its window %s", el, window)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := asker.GatherMasters(ctx, []byte("q"), 5, time.Minute); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("a cancelled gather: %v", err)
	}
}

// TestMastersSubjects: the deny wildcard covers the query and the replies.
func TestMastersSubjects(t *testing.T) {
	s := subjects{"c1"}
	w := strings.TrimSuffix(MastersSubjects("c1"), ">")
	for _, subj := range []string{s.mastersQuery(), s.mastersReply() + "x"} {
		if !strings.HasPrefix(subj, w) {
			t.Errorf("%s is outside %s", subj, MastersSubjects("c1"))
		}
	}
	if MastersSubjects("") != DefaultPrefix+".masters.>" {
		t.Errorf("default prefix: %s", MastersSubjects(""))
	}
}

// TestRoutesStandalone: a server without routes reports none.
func TestRoutesStandalone(t *testing.T) {
	rs, err := startTestServer(t).Routes()
	if err != nil || rs.Connections != 0 || len(rs.Peers) != 0 || rs.Peers == nil {
		t.Fatalf("%+v, %v", rs, err)
	}
}
