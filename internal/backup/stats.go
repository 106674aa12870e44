package backup

import (
	"context"
	"fmt"
)

// Stats describes what a repository holds.
type Stats struct {
	// Snapshots is the number of readable snapshots.
	Snapshots int
	// StoredBytes and Objects are what the repository's prefix holds in the store: compressed
	// blobs, user tables and manifests, including anything unreferenced that Prune has not
	// removed yet.
	StoredBytes int64
	Objects     int
	// LogicalBytes is the sum of the snapshots' uncompressed user and configuration data: what
	// the store would hold if every snapshot were stored in full.
	LogicalBytes int64
	// UniqueBytes is the uncompressed size of the distinct blobs the snapshots use.
	UniqueBytes int64
}

// DeduplicationRatio is LogicalBytes over UniqueBytes: how many times content addressing shrank
// the data, before compression. It is 0 when nothing is stored.
func (s Stats) DeduplicationRatio() float64 {
	if s.UniqueBytes <= 0 {
		return 0
	}
	return float64(s.LogicalBytes) / float64(s.UniqueBytes)
}

// Stats reads every manifest and user table and asks the store for its usage. Unreadable
// manifests are left out of the figures and reported in the error, which then wraps ErrCorrupt;
// the figures of the readable ones are still returned.
func (r *Repository) Stats(ctx context.Context) (Stats, error) {
	ms, listErr := r.List(ctx)
	if ms == nil && listErr != nil {
		return Stats{}, listErr
	}
	st := Stats{Snapshots: len(ms)}
	for _, m := range ms {
		st.LogicalBytes += m.Bytes
	}
	refs, err := r.references(ctx, ms)
	if err != nil {
		return Stats{}, err
	}
	for _, size := range refs {
		if size != tableRef {
			st.UniqueBytes += size
		}
	}
	prefix := ""
	if r.prefix != "" {
		prefix = r.prefix + "/"
	}
	u, err := r.store.Usage(ctx, prefix)
	if err != nil {
		return Stats{}, fmt.Errorf("measuring the store: %w", err)
	}
	st.StoredBytes, st.Objects = u.Bytes, u.Objects
	return st, listErr
}
