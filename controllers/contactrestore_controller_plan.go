package controllers

import (
	"fmt"
	"sort"
	"strings"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/restoreplan"
)

// The decisions of a ContactRestore, pure and table-tested: whom it targets, which users one
// import covers, what to import, and how an import's outcome is counted.

const (
	// restoreChunk is how many users of a server one pass covers; its import is written to the
	// status before it runs (status.servers[].importing).
	restoreChunk = 500
	// restoreImportBatch is how many users one import command carries.
	restoreImportBatch = 100
	// maxImportAttempts is how many passes may run a chunk's import without learning its
	// outcome before its users count as failed.
	maxImportAttempts = 3
	// maxFailedUsers bounds status.failedUsers.
	maxFailedUsers = 10
)

// restoreUser is a targeted user: its SIP URI as the directory spells it, its key in the
// snapshot, and its home now.
type restoreUser struct {
	SIP, Key, Home string
}

// targetSet is whom a restore addresses.
type targetSet struct {
	// byServer lists the users to restore per home server, in key order.
	byServer map[string][]restoreUser
	// servers are the keys of byServer in name order.
	servers []string
	// failed are the users addressed that cannot be restored, in user order.
	failed []ocsv1.RestoreFailure
	// withoutCopy counts the users of a server or pool target that the snapshot does not hold.
	withoutCopy int
}

// users counts the users to restore.
func (t targetSet) users() int {
	n := 0
	for _, us := range t.byServer {
		n += len(us)
	}
	return n
}

// restoreTargets derives the target set of spec from the directory now: each user goes to the
// server homing them now, if it serves and the snapshot holds them.
func restoreTargets(spec ocsv1.RestoreRequestSpec, directory []ocs.HomedUser, inSnapshot func(key string) bool, serving map[string]bool) targetSet {
	t := targetSet{byServer: map[string][]restoreUser{}}
	add := func(u ocs.HomedUser, key string, named bool) {
		switch {
		case u.Server == "":
			t.failed = append(t.failed, ocsv1.RestoreFailure{User: u.SIP, Reason: "The user is homed outside the pool."})
		case !inSnapshot(key) && named:
			t.failed = append(t.failed, ocsv1.RestoreFailure{User: u.SIP, Reason: "The snapshot does not hold the user."})
		case !inSnapshot(key):
			t.withoutCopy++
		case !serving[u.Server]:
			t.failed = append(t.failed, ocsv1.RestoreFailure{User: u.SIP, Reason: fmt.Sprintf("The user's home server %s does not serve.", u.Server)})
		default:
			t.byServer[u.Server] = append(t.byServer[u.Server], restoreUser{SIP: u.SIP, Key: key, Home: u.Server})
		}
	}
	if len(spec.Users) > 0 {
		byKey := make(map[string]ocs.HomedUser, len(directory))
		for _, u := range directory {
			byKey[restoreplan.Key(u.SIP)] = u
		}
		seen := map[string]bool{}
		for _, sip := range spec.Users {
			key := restoreplan.Key(sip)
			if seen[key] {
				continue
			}
			seen[key] = true
			u, ok := byKey[key]
			if !ok {
				t.failed = append(t.failed, ocsv1.RestoreFailure{User: sip, Reason: "The user is not in the directory."})
				continue
			}
			add(u, key, true)
		}
	} else {
		for _, u := range directory {
			if u.Server == "" || (spec.Server != "" && u.Server != spec.Server) {
				continue
			}
			add(u, restoreplan.Key(u.SIP), false)
		}
	}
	for server, us := range t.byServer {
		sort.Slice(us, func(i, j int) bool { return us[i].Key < us[j].Key })
		t.servers = append(t.servers, server)
	}
	sort.Strings(t.servers)
	sort.Slice(t.failed, func(i, j int) bool { return t.failed[i].User < t.failed[j].User })
	return t
}

// nextChunk returns the users of one server the next import covers: those after
// p.DoneThrough, up to p.Importing.Through when an import was started and not counted
// (resumed), else the next size users.
func nextChunk(users []restoreUser, p ocsv1.RestoreServerProgress, size int) (chunk []restoreUser, resumed bool) {
	start := sort.Search(len(users), func(i int) bool { return users[i].Key > p.DoneThrough })
	rest := users[start:]
	if p.Importing != nil {
		end := sort.Search(len(rest), func(i int) bool { return rest[i].Key > p.Importing.Through })
		return rest[:end], true
	}
	return rest[:min(size, len(rest))], false
}

// chunkPlan is what one chunk needs: the users who lack something of their snapshot list, with
// the lists to import, and how many lack nothing.
type chunkPlan struct {
	need      []restoreUser
	resources []contacts.Resource
	complete  int
	// contacts counts the contacts the imports would add (for a dry run).
	contacts int
}

// planChunk compares each user's list now (have) with the snapshot's (want), by key. What the
// import adds is exactly what Merge adds, so a user who lacks nothing needs no import.
func planChunk(chunk []restoreUser, have, want map[string]contacts.Resource) chunkPlan {
	var p chunkPlan
	for _, u := range chunk {
		w := want[u.Key]
		missing := contacts.Missing(have[u.Key], w)
		if len(missing) == 0 {
			p.complete++
			continue
		}
		for _, m := range missing {
			if strings.HasPrefix(m, "contact ") {
				p.contacts++
			}
		}
		w.UserAtHost = strings.TrimPrefix(strings.TrimPrefix(u.SIP, "sip:"), "SIP:")
		p.need = append(p.need, u)
		p.resources = append(p.resources, w)
	}
	return p
}

// chunkOutcome is what a pass learned of one chunk.
type chunkOutcome struct {
	// through is the key of the chunk's last user.
	through string
	// unchangedBefore counts the users who lacked nothing before any import of the chunk: this
	// pass's count for a new chunk, the recorded one for a resumed chunk.
	unchangedBefore int32
	// complete counts the users who lacked nothing when this pass read them, before its import.
	complete int
	// need are the users this pass imported.
	need []restoreUser
	// results are the import's results, one per user of need; importErr is set instead when
	// the outcome is unknown.
	results   []ocs.ImportResult
	importErr error
}

// settleChunk counts a chunk into the server's progress once its outcome is known, or records
// one more attempt of an import whose outcome is unknown. Users complete beyond those complete
// before any import were restored by an earlier pass that died before counting them.
func settleChunk(p ocsv1.RestoreServerProgress, o chunkOutcome) (ocsv1.RestoreServerProgress, []ocsv1.RestoreFailure) {
	attempts := int32(0)
	if p.Importing != nil {
		attempts = p.Importing.Attempts
	}
	var failures []ocsv1.RestoreFailure
	restored := int32(max(0, o.complete-int(o.unchangedBefore)))
	if o.importErr != nil && len(o.need) > 0 {
		attempts++
		if attempts < maxImportAttempts {
			p.Importing = &ocsv1.RestoreImport{Through: o.through, Unchanged: o.unchangedBefore, Attempts: attempts}
			return p, nil
		}
		why := fmt.Sprintf("The import failed %d times: %s.", attempts, describeCommandError(o.importErr))
		for _, u := range o.need {
			failures = append(failures, ocsv1.RestoreFailure{User: u.SIP, Reason: why})
		}
	}
	for _, res := range o.results {
		if res.OK {
			restored++
			continue
		}
		failures = append(failures, ocsv1.RestoreFailure{User: res.SIP, Reason: trimReason(res.Message)})
	}
	p.DoneThrough, p.Importing = o.through, nil
	p.Restored += restored
	p.Unchanged += o.unchangedBefore
	p.Failed += int32(len(failures))
	return p, failures
}

// trimReason keeps a failure's reason short: the status names up to ten of them.
func trimReason(s string) string {
	const most = 256
	s = strings.TrimSpace(s)
	if s == "" {
		return "The import reported no outcome for the user."
	}
	if len(s) > most {
		return s[:most-3] + "..."
	}
	return s
}

// addFailures adds failures to the bounded sample, each user once.
func addFailures(sample, more []ocsv1.RestoreFailure) []ocsv1.RestoreFailure {
	for _, f := range more {
		if len(sample) >= maxFailedUsers {
			break
		}
		dup := false
		for _, s := range sample {
			if restoreplan.Key(s.User) == restoreplan.Key(f.User) {
				dup = true
				break
			}
		}
		if !dup {
			sample = append(sample, f)
		}
	}
	return sample
}

// restoreCounts totals the progress of every server and the users that failed up front.
func restoreCounts(t targetSet, servers []ocsv1.RestoreServerProgress) ocsv1.RestoreCounts {
	c := ocsv1.RestoreCounts{
		Targeted:    int32(t.users() + len(t.failed)),
		Failed:      int32(len(t.failed)),
		WithoutCopy: int32(t.withoutCopy),
	}
	for _, p := range servers {
		c.Restored += p.Restored
		c.Unchanged += p.Unchanged
		c.Failed += p.Failed
	}
	return c
}

// restoreFinished reports whether every server's users are settled.
func restoreFinished(t targetSet, servers []ocsv1.RestoreServerProgress) bool {
	for _, name := range t.servers {
		p := progressOf(servers, name)
		if chunk, _ := nextChunk(t.byServer[name], p, 1); len(chunk) > 0 {
			return false
		}
	}
	return true
}

// progressOf returns the progress of a server, empty when it has none yet.
func progressOf(servers []ocsv1.RestoreServerProgress, name string) ocsv1.RestoreServerProgress {
	for _, p := range servers {
		if p.Name == name {
			return p
		}
	}
	return ocsv1.RestoreServerProgress{Name: name}
}

// setProgress replaces or adds the progress of a server, keeping name order.
func setProgress(servers []ocsv1.RestoreServerProgress, p ocsv1.RestoreServerProgress) []ocsv1.RestoreServerProgress {
	for i := range servers {
		if servers[i].Name == p.Name {
			servers[i] = p
			return servers
		}
	}
	servers = append(servers, p)
	sort.Slice(servers, func(i, j int) bool { return servers[i].Name < servers[j].Name })
	return servers
}
