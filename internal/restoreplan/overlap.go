package restoreplan

// ImportWhileMoving reports whether a pass of a failover that still force-moves users may also
// import the contacts of the users its move batches move, each batch's as soon as its moves are
// confirmed, while the pass's other batches still move. It may when:
//
//   - a snapshot is pinned (there is something to restore);
//   - who holds contact data is known without asking the servers (holdsKnown: this process ran
//     or saw every forced move and every import of the operation). Finding out would take a
//     whole export of every target in the middle of the moves; a pass that does not know
//     leaves the restore to the step after the moves, whose first pass asks the servers;
//   - no import of an earlier pass is pending (pendingMarks): its outcome is unknown until an
//     export settles it, which the same step after the moves does. Within the pass, an import
//     whose outcome turns out unknown spoils what is known, and the pass's later batches only
//     move.
//
// So an overlapped import never rests on a guess about who holds data, and a restarted process
// (which knows nothing) only moves until the moves are done.
func ImportWhileMoving(snapshotPinned, holdsKnown bool, pendingMarks int) bool {
	return snapshotPinned && holdsKnown && pendingMarks == 0
}
