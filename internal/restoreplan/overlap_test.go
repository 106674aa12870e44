package restoreplan

import "testing"

func TestImportWhileMoving(t *testing.T) {
	for _, tc := range []struct {
		name          string
		pinned, known bool
		pending       int
		want          bool
	}{
		{"known holdings, nothing pending", true, true, 0, true},
		{"no snapshot pinned", false, true, 0, false},
		{"holdings unknown (restarted process)", true, false, 0, false},
		{"an import of an earlier pass is pending", true, true, 1, false},
		{"nothing known at all", false, false, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ImportWhileMoving(tc.pinned, tc.known, tc.pending); got != tc.want {
				t.Fatalf("ImportWhileMoving(%v, %v, %d) = %v, want %v", tc.pinned, tc.known, tc.pending, got, tc.want)
			}
		})
	}
}
