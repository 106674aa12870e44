// Package restoreplan decides, without any I/O, whose contact lists a failover restores from a
// snapshot, in which import batches, and what the imports of a pass that died before its status
// write did.
//
// The restore set is derived from reality at every pass, never stored: the users of the pinned
// snapshot whose home then was a source of the failover. Of those, the candidates are the users
// now homed on a serving server. Compute and Plan.Fill guarantee, for every input:
//
//   - Never over newer data: a candidate that Input.Holds says holds contact data on its home is
//     never imported. A force-moved user arrives with an empty list; a user restored already, or
//     who made new contacts since the move, holds data and is left alone. So a resumed pass
//     neither restores twice nor clobbers newer data, provided Holds tells the truth.
//   - Every candidate is accounted for exactly once per pass: imported in a batch, skipped with a
//     reason (holds data, nothing to restore, no readable copy), or pending for a later pass
//     because this pass's batches are full. Users of the restore set homed on a server that does
//     not serve are reported as waiting.
//   - Batches hold at most BatchSize users, all homed on the batch's server, in key order, and
//     no user that holds data sorts inside a batch's range (its Mark). A pass
//     prepares at most BatchesPerTarget batches per server, fewer when there are many servers so
//     that the marks of all of them stay within MaxMarks (one batch per server at the least).
//   - Settled counts the users of the pending marks that hold data now: an import that ran but
//     whose pass died before counting it, or whose outcome was lost. A user is counted by one
//     mark at most. The count is exact unless a user inside a mark's range whose copy was empty
//     or unreadable made contacts of its own before the mark was settled.
//   - The output depends on the set of inputs, not on their order.
//
// Memory is the one in-process shortcut: it remembers, per operation, what this process already
// knows of who holds data, so that a pass need not export every server again. An import whose
// outcome is unknown spoils it, and a pass planned before that (chained imports run side by
// side) cannot make it whole again (Basis). A restarted process starts empty and asks the
// servers, the truth, afresh.
package restoreplan
