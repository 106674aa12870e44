package backup

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestRetain(t *testing.T) {
	now := t0
	// Snapshots every 6 hours, newest first: s0 is 0h old, s1 6h, … s4 24h.
	var ms []*Manifest
	for i := 4; i >= 0; i-- { // given oldest first: Retain must not rely on the order
		ms = append(ms, &Manifest{Name: fmt.Sprintf("s%d", i), Time: now.Add(-time.Duration(i) * 6 * time.Hour)})
	}
	tests := map[string]struct {
		keepLast int
		maxAge   time.Duration
		keep     []string
		drop     []string
	}{
		"no rule keeps everything":                {keep: []string{"s0", "s1", "s2", "s3", "s4"}},
		"keepLast keeps the newest":               {keepLast: 2, keep: []string{"s0", "s1"}, drop: []string{"s2", "s3", "s4"}},
		"keepLast above the count keeps all":      {keepLast: 9, keep: []string{"s0", "s1", "s2", "s3", "s4"}},
		"maxAge keeps the young, boundary kept":   {maxAge: 12 * time.Hour, keep: []string{"s0", "s1", "s2"}, drop: []string{"s3", "s4"}},
		"either rule keeps a snapshot":            {keepLast: 4, maxAge: 6 * time.Hour, keep: []string{"s0", "s1", "s2", "s3"}, drop: []string{"s4"}},
		"the newest survives even when too old":   {maxAge: time.Minute, keep: []string{"s0"}, drop: []string{"s1", "s2", "s3", "s4"}},
		"negative values disable their rule only": {keepLast: -1, maxAge: 7 * time.Hour, keep: []string{"s0", "s1"}, drop: []string{"s2", "s3", "s4"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			keep, drop := Retain(ms, tc.keepLast, tc.maxAge, now)
			if got := names(keep); !reflect.DeepEqual(got, tc.keep) {
				t.Errorf("keep = %v, want %v", got, tc.keep)
			}
			if got := names(drop); !reflect.DeepEqual(got, tc.drop) {
				t.Errorf("drop = %v, want %v", got, tc.drop)
			}
		})
	}
	t.Run("the newest is kept when the clock is wrong", func(t *testing.T) {
		keep, _ := Retain(ms, 0, time.Hour, now.Add(-48*time.Hour))
		if len(keep) == 0 || keep[0].Name != "s0" {
			t.Fatalf("keep = %v", names(keep))
		}
	})
}

func names(ms []*Manifest) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}
