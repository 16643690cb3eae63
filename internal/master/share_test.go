package master

import "testing"

func TestShare(t *testing.T) {
	for _, tc := range []struct{ limit, count, want int }{
		{0, 4, 0}, {-1, 4, 0}, {1, 4, 1}, {4, 4, 1}, {5, 4, 2}, {1000, 3, 334}, {7, 1, 7}, {7, 0, 7},
	} {
		if got := Share(tc.limit, tc.count); got != tc.want {
			t.Errorf("Share(%d, %d) = %d, want %d", tc.limit, tc.count, got, tc.want)
		}
	}
}
