package master

import "testing"

func TestCoresFor(t *testing.T) {
	for _, c := range []struct{ asked, count, cores, want int }{
		{0, 4, 2, 1},  // more workers than cores: one each
		{0, 2, 2, 1},  // a core each
		{0, 1, 2, 2},  // one worker has them all
		{0, 1, 1, 1},  // never zero
		{0, 4, 16, 4}, // the cores shared out
		{3, 4, 2, 3},  // asked for wins
	} {
		if got := CoresFor(c.asked, c.count, c.cores); got != c.want {
			t.Errorf("CoresFor(%d, %d, %d) = %d, want %d", c.asked, c.count, c.cores, got, c.want)
		}
	}
}
