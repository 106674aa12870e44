package backup

import "time"

// Retain splits snapshots into those to keep and those to drop, both newest first. A snapshot is
// kept when it is among the keepLast newest or not older than maxAge; a non-positive value
// disables its rule, and with both disabled everything is kept. The newest snapshot is always
// kept, so that failing backups never leave the repository empty.
func Retain(ms []*Manifest, keepLast int, maxAge time.Duration, now time.Time) (keep, drop []*Manifest) {
	ordered := append([]*Manifest(nil), ms...)
	sortNewestFirst(ordered)
	if keepLast <= 0 && maxAge <= 0 {
		return ordered, nil
	}
	for i, m := range ordered {
		if i == 0 || i < keepLast || maxAge > 0 && now.Sub(m.Time) <= maxAge {
			keep = append(keep, m)
		} else {
			drop = append(drop, m)
		}
	}
	return keep, drop
}
