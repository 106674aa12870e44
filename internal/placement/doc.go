// Package placement computes, without any I/O, which users move from which server to which, in
// ordered batches, from the users' homes, the servers' health and the placement policy.
//
// Compute guarantees, for every input:
//
//   - A server is a destination when it is Serving, Reachable and not Evacuate. When at least one
//     destination exists, every placeable user ends on exactly one destination. Placeable users are
//     those homed on a destination or on an Evacuate server.
//   - Every user homed on an Evacuate server moves. The move is forced (contacts stay behind) if and
//     only if that server is not Reachable.
//   - Users homed on a server that is neither a destination nor Evacuate (for example down, but not
//     yet for the failover delay) never move and are not counted in the targets.
//   - A pinned user stays on, or moves to, its pinned server while that server is a destination,
//     whether or not Rebalance is set: a pin is an explicit order. A pin to any other server is
//     ignored until the server serves again.
//   - Users whose home is not a known server are left alone and reported in Plan.Unknown.
//   - With no destination at all nothing moves; the users that would have had to leave are
//     reported in Plan.Stranded.
//   - Moves are minimal: no user moves twice; beyond evacuations and pins, users move only when
//     Rebalance is set and some destination is outside MaxImbalancePercent of its target, and
//     then exactly the surplus above each target moves.
//   - Targets: Balanced splits the placeable users equally, Weighted proportionally to the weights
//     (weight 0 receives no user and gives its users away as surplus; all-zero weights count as
//     equal). A destination never gets a target below the number of users pinned to it. Rounding
//     is by largest remainder; ties go to the server holding more users, then to the lower name.
//   - The output depends only on the set of inputs, not on their order: servers are taken by name,
//     users by SIP, and the users that leave a server are its unpinned users in SIP order.
package placement
