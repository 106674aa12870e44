package cli

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// The ContactRestore CRD's patterns (spec.users items, spec.snapshot), checked here so that the
// admin reads which value is wrong before the API server refuses the whole object. A test keeps
// them equal to config/crd/bases.
var (
	restoreUserPattern     = regexp.MustCompile(`^sip:[^@\s]+@[^@\s]+$`)
	restoreSnapshotPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

const (
	maxRestoreUserLength     = 256
	maxRestoreSnapshotLength = 128
	// latestSnapshot asks for the newest readable snapshot: spec.snapshot is left out.
	latestSnapshot = "latest"
)

// errBadRestore is wrapped by every refusal of a restore request made before anything is sent.
var errBadRestore = errors.New("invalid restore request")

// restoreRequest is what the admin asked of `kubectl ocs restore <pool|homing>`.
type restoreRequest struct {
	// target names an OCSPool or a UserHoming.
	target string
	// from names the ContactBackup; empty lets the plugin find the one covering the pool.
	from string
	// snapshot is a snapshot name, or empty / "latest" for the newest.
	snapshot string
	users    []string
	server   string
	all      bool
	dryRun   bool
}

// hasTarget says whether the request names whom to restore.
func (r restoreRequest) hasTarget() bool { return len(r.users) > 0 || r.server != "" || r.all }

// restoreTarget is what the cluster says about a request's names.
type restoreTarget struct {
	// pool is the OCSPool restored into; servers its spec.servers names (nil when the pool
	// could not be read).
	pool    string
	servers []string
	backup  string
	// snapshots are the names the ContactBackup lists in status.snapshots, newest first.
	snapshots []string
}

// validateRestoreRequest refuses what the CRD would refuse, naming the flag and the value.
func validateRestoreRequest(r restoreRequest) error {
	targets := 0
	for _, set := range []bool{len(r.users) > 0, r.server != "", r.all} {
		if set {
			targets++
		}
	}
	if targets != 1 {
		return fmt.Errorf("%w: say whom to restore with exactly one of --user sip:… (repeatable), --server <name> or --all", errBadRestore)
	}
	if len(r.users) > ocsv1.MaxRestoreUsers {
		return fmt.Errorf("%w: %d users named, at most %d: restore a whole server (--server) or the pool (--all) instead",
			errBadRestore, len(r.users), ocsv1.MaxRestoreUsers)
	}
	seen := map[string]bool{}
	for _, u := range r.users {
		if err := validateRestoreUser(u); err != nil {
			return err
		}
		if seen[u] {
			return fmt.Errorf("%w: --user %s is named twice", errBadRestore, u)
		}
		seen[u] = true
	}
	if r.server != "" && len(r.server) > 63 {
		return fmt.Errorf("%w: --server %q is longer than a server name can be (63)", errBadRestore, r.server)
	}
	if s := r.snapshot; s != "" && s != latestSnapshot {
		if len(s) > maxRestoreSnapshotLength || !restoreSnapshotPattern.MatchString(s) {
			return fmt.Errorf("%w: --snapshot %q is not a snapshot name (letters, digits, - and _; see kubectl ocs status <pool>) or %q",
				errBadRestore, s, latestSnapshot)
		}
	}
	return nil
}

// validateRestoreUser checks one SIP URI as spec.users' items schema does.
func validateRestoreUser(u string) error {
	if len(u) > maxRestoreUserLength {
		return fmt.Errorf("%w: --user %.40s… is longer than %d characters", errBadRestore, u, maxRestoreUserLength)
	}
	if restoreUserPattern.MatchString(u) {
		return nil
	}
	hint := "a SIP URI such as sip:alice@corp.example.com"
	if !strings.HasPrefix(u, "sip:") && restoreUserPattern.MatchString("sip:"+u) {
		hint = fmt.Sprintf("a SIP URI: did you mean sip:%s?", u)
	}
	return fmt.Errorf("%w: --user %q is not %s", errBadRestore, u, hint)
}

// checkRestoreTarget refuses what the controller would stop on once it read the objects.
func checkRestoreTarget(r restoreRequest, t restoreTarget) error {
	if r.server != "" && t.servers != nil && !slices.Contains(t.servers, r.server) {
		return fmt.Errorf("%w: --server %s is not a server of OCSPool %s (it has %s)", errBadRestore, r.server, t.pool, strings.Join(t.servers, ", "))
	}
	return nil
}

// restoreManifest is the ContactRestore a `kubectl apply` of the same request would create; the
// API server picks the name's suffix.
func restoreManifest(namespace string, r restoreRequest, t restoreTarget) *unstructured.Unstructured {
	spec := map[string]any{"backupRef": map[string]any{"name": t.backup}}
	if r.snapshot != "" && r.snapshot != latestSnapshot {
		spec["snapshot"] = r.snapshot
	}
	switch {
	case len(r.users) > 0:
		users := make([]any, len(r.users))
		for i, u := range r.users {
			users[i] = u
		}
		spec["users"] = users
	case r.server != "":
		spec["server"] = r.server
	default:
		spec["pool"] = true
	}
	if r.dryRun {
		spec["dryRun"] = true
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(ocsv1.GroupVersion.String())
	u.SetKind("ContactRestore")
	u.SetNamespace(namespace)
	// The API server adds a random suffix (and shortens a long prefix).
	u.SetGenerateName(t.pool + "-restore-")
	return u
}

// describeRestore says in a line what a restore request covers.
func describeRestore(r restoreRequest, t restoreTarget) string {
	who := "every user of the pool"
	switch {
	case len(r.users) == 1:
		who = r.users[0]
	case len(r.users) > 1:
		who = fmt.Sprintf("%d users", len(r.users))
	case r.server != "":
		who = "the users homed on " + r.server
	}
	snap := "the newest snapshot"
	if r.snapshot != "" && r.snapshot != latestSnapshot {
		snap = "snapshot " + r.snapshot
	}
	line := fmt.Sprintf("%s of OCSPool %s from %s of ContactBackup %s", who, t.pool, snap, t.backup)
	if r.dryRun {
		line += " (dry run: counts only, nothing is written)"
	}
	return line
}
