package restoreplan

import (
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

// Copy is what the snapshots hold for one user.
type Copy struct {
	// Resource is the user's contact data, when readable.
	Resource contacts.Resource
	// Unreadable, when not empty, says why no copy can be restored: the user fails.
	Unreadable string
}

// Reader reads one user's copy from the snapshots. An error aborts the pass: it is not about
// the user (a store that does not answer, a cancelled context).
type Reader func(sip string) (Copy, error)

// Batch is one import: Resources, addressed as the directory spells each user, into Server.
type Batch struct {
	Server    string
	SIPs      []string
	Resources []contacts.Resource
}

// Mark is the mark that names the batch in the operation record.
func (b Batch) Mark() Mark {
	return Mark{Server: b.Server, First: b.SIPs[0], Last: b.SIPs[len(b.SIPs)-1]}
}

// Reason says why a candidate is not imported by a pass.
type Reason string

// Reasons a candidate is not imported.
const (
	// HoldsData: the user holds contact data on its home (restored already, or new contacts).
	HoldsData Reason = "HoldsData"
	// NothingToRestore: the user's copy is empty; importing it would change nothing.
	NothingToRestore Reason = "NothingToRestore"
	// NoReadableCopy: no snapshot holds a readable copy; the user fails.
	NoReadableCopy Reason = "NoReadableCopy"
)

// Skip is a candidate not imported, and why.
type Skip struct {
	SIP    string
	Reason Reason
	// Detail is the reader's explanation for NoReadableCopy.
	Detail string
}

// Wave is the outcome of Fill: the imports of one pass.
type Wave struct {
	// Batches are the imports, by target in name order, then in key order; none is empty.
	Batches []Batch
	// Skipped are the candidates examined and not imported.
	Skipped []Skip
	// Pending is the number of candidates left for a later pass: this pass's batches are full.
	Pending int
}

// Done reports that nothing is left to import: every candidate holds data, has nothing to
// restore, or has no readable copy.
func (w Wave) Done() bool { return len(w.Batches) == 0 }

// Failed returns the skipped candidates that have no readable copy.
func (w Wave) Failed() []Skip {
	var out []Skip
	for _, s := range w.Skipped {
		if s.Reason == NoReadableCopy {
			out = append(out, s)
		}
	}
	return out
}

// Fill reads the copies of the candidates that hold no data, in order, until each target has
// BatchesPerTarget full batches. A candidate without a readable copy is a failure but does not
// hold back the others.
func (p Plan) Fill(read Reader) (Wave, error) { return p.FillOnly(read, nil) }

// FillOnly is Fill restricted to the candidates whose key keep accepts (all when keep is nil):
// the imports of one move batch, run while other batches of the pass still move. A candidate
// not kept is neither imported, skipped nor pending here, and it ends a batch as a user holding
// data does, so that no mark's range holds a user another import may fill: settling that mark
// after a crash would count the user twice.
func (p Plan) FillOnly(read Reader, keep func(key string) bool) (Wave, error) {
	var w Wave
	for _, t := range p.Targets {
		if err := p.fillTarget(t, read, keep, &w); err != nil {
			return Wave{}, err
		}
	}
	return w, nil
}

func (p Plan) fillTarget(target string, read Reader, keep func(string) bool, w *Wave) error {
	var cur *Batch
	batches := 0
	sips := p.Candidates[target]
	for i, sip := range sips {
		if keep != nil && !keep(Key(sip)) {
			if cur != nil && len(cur.SIPs) > 0 {
				cur = nil
			}
			continue
		}
		if p.Holding[Key(sip)] {
			w.Skipped = append(w.Skipped, Skip{SIP: sip, Reason: HoldsData})
			if cur != nil && len(cur.SIPs) > 0 {
				// A mark names a range of users: a user holding data inside it would be
				// counted as restored by a pass that settles the mark.
				cur = nil
			}
			continue
		}
		if cur == nil || len(cur.SIPs) == p.BatchSize {
			if batches == p.BatchesPerTarget {
				w.Pending += pendingFrom(sips[i:], p.Holding, keep, w)
				break
			}
			w.Batches = append(w.Batches, Batch{Server: target})
			cur = &w.Batches[len(w.Batches)-1]
			batches++
		}
		c, err := read(sip)
		if err != nil {
			return err
		}
		switch {
		case c.Unreadable != "":
			w.Skipped = append(w.Skipped, Skip{SIP: sip, Reason: NoReadableCopy, Detail: c.Unreadable})
		case Empty(c.Resource):
			// Importing it would leave the list empty and the user would look unrestored at
			// every pass.
			w.Skipped = append(w.Skipped, Skip{SIP: sip, Reason: NothingToRestore})
		default:
			r := c.Resource
			r.UserAtHost = strings.TrimPrefix(strings.TrimPrefix(sip, "sip:"), "SIP:")
			cur.SIPs = append(cur.SIPs, sip)
			cur.Resources = append(cur.Resources, r)
		}
	}
	if cur != nil && len(cur.SIPs) == 0 {
		// Every user read after the last batch opened failed or had nothing to restore.
		w.Batches = w.Batches[:len(w.Batches)-1]
	}
	return nil
}

// pendingFrom counts the candidates left unexamined (of those kept), reporting those that hold
// data as skipped.
func pendingFrom(rest []string, holding map[string]bool, keep func(string) bool, w *Wave) int {
	n := 0
	for _, sip := range rest {
		if keep != nil && !keep(Key(sip)) {
			continue
		}
		if holding[Key(sip)] {
			w.Skipped = append(w.Skipped, Skip{SIP: sip, Reason: HoldsData})
			continue
		}
		n++
	}
	return n
}

// Empty reports that a user's contact data holds nothing: no contact, group or container. A
// force-moved user arrives so.
func Empty(r contacts.Resource) bool {
	return len(r.Contacts) == 0 && len(r.Groups) == 0 && len(r.Containers) == 0
}
