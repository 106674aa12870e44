package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// Incremental backups. Neither product gives a change marker for contact lists: dbimpexp.exe
// exports all users or one (/user:), Export-CsUserData filters by user (-UserFilter) but not by
// time, and no public source documents a "last modified" in the RTC database (internal/backup
// inferred.go). What the operator can see is the directory: a user added, or moved to another
// server, since the previous snapshot. An incremental run exports those users one by one and
// carries every other user's entry from the previous snapshot; a periodic full run catches what
// it cannot see. What an incremental snapshot misses, until the next full one: a contact list
// changed by its user (or by an admin tool) without a move. The manifest's coverage says which
// users the run exported and from which snapshot the others come.

// maxIncrementalPerServer bounds the users an incremental run exports one by one on a server;
// above it one whole-server export costs less (ocs.maxPerUserExport).
const maxIncrementalPerServer = 64

// backupScopeInput is what the scope decision reads.
type backupScopeInput struct {
	// FullEvery is how often a full snapshot is taken; zero turns incremental runs off.
	FullEvery time.Duration
	Now       time.Time
	// Previous is the newest snapshot (nil: none) and PreviousUsers its user table.
	Previous      *backup.Manifest
	PreviousUsers map[string]backup.UserEntry
	// Directory lists every user with its home (ocs.Agent.ListUsers); Serving the servers exported.
	Directory []ocs.HomedUser
	Serving   []string
}

// backupScope is the decision: a full run (Reason says why), or the users to export per server.
type backupScope struct {
	Full   bool
	Reason string
	// Export lists, per serving server, the users to export (added or moved there).
	Export map[string][]string
	// Keep tells the users whose entries are carried from Previous: in the directory, not exported.
	Keep map[string]bool
}

// decideBackupScope chooses between a full and an incremental run.
func decideBackupScope(in backupScopeInput) backupScope {
	full := func(reason string) backupScope { return backupScope{Full: true, Reason: reason} }
	switch {
	case in.FullEvery <= 0:
		return full("incremental backups are off")
	case in.Previous == nil:
		return full("no previous snapshot")
	case in.Now.Sub(lastFullTime(in.Previous)) >= in.FullEvery:
		return full(fmt.Sprintf("the last full snapshot is older than %s", in.FullEvery))
	}
	for _, s := range in.Previous.Servers {
		if s.Skipped {
			return full("the previous snapshot skipped server " + s.Name)
		}
	}
	serving := map[string]bool{}
	for _, s := range in.Serving {
		serving[s] = true
	}
	sc := backupScope{Export: map[string][]string{}, Keep: map[string]bool{}}
	for _, u := range in.Directory {
		if u.Server == "" {
			continue // homed outside the pool: no server of ours holds its contacts
		}
		if !serving[u.Server] {
			return full("server " + u.Server + " homes users but is not exported")
		}
		key := snapshotKey(u.SIP)
		if prev, ok := in.PreviousUsers[key]; ok && prev.Server == u.Server {
			sc.Keep[key] = true
			continue
		}
		sc.Export[u.Server] = append(sc.Export[u.Server], u.SIP)
		if len(sc.Export[u.Server]) > maxIncrementalPerServer {
			return full(fmt.Sprintf("more than %d users added or moved on %s", maxIncrementalPerServer, u.Server))
		}
	}
	sc.Reason = "users added or moved since snapshot " + in.Previous.Name
	return sc
}

// lastFullTime is when the full snapshot that m derives from was taken.
func lastFullTime(m *backup.Manifest) time.Time {
	if m.Coverage == nil {
		return m.Time
	}
	return m.Coverage.FullTime
}

// backupScope reads what the scope decision needs and, for an incremental run, has w carry the
// previous snapshot's other users. With incremental runs off it reads nothing.
func (r *ContactBackupReconciler) backupScope(ctx context.Context, agent ocs.Agent, repo *backup.Repository, w *backup.SnapshotWriter, serving []string) (backupScope, error) {
	in := backupScopeInput{FullEvery: r.FullBackupEvery, Now: r.Clock.Now(), Serving: serving}
	if in.FullEvery > 0 {
		ms, _ := repo.List(ctx) // unreadable manifests are left out; none readable means a full run
		if len(ms) > 0 {
			users, err := repo.Users(ctx, ms[0])
			if err == nil {
				in.Previous, in.PreviousUsers = ms[0], users
			}
		}
	}
	if in.Previous != nil {
		dir, err := agent.ListUsers(ctx, serving[0])
		if err != nil {
			return backupScope{}, fmt.Errorf("listing users for an incremental backup: %w", err)
		}
		in.Directory = dir
	}
	scope := decideBackupScope(in)
	if scope.Full {
		return scope, nil
	}
	err := w.Carry(in.Previous, func(sip string, _ backup.UserEntry) bool { return scope.Keep[sip] })
	return scope, err
}
