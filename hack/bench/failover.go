package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// failover runs scenario 5 (backup: full, 1% changed, incremental) and then scenario 1
// (failover) on one emulator, so the failover restores from the incremental snapshot.
func (b *bench) failover(ctx context.Context) error {
	cfg := b.cfg
	ns := b.namespace("failover")
	emu, done, err := b.scenarioPool(ctx, ns, filepath.Join(cfg.work, "backups", ns))
	if err != nil {
		return err
	}
	defer done()

	// Scenario 5: backups.
	br := &backupResult{Users: cfg.users}
	b.res.Backup = br
	cmdsBefore, err := emu.commands(ctx)
	if err != nil {
		return err
	}
	full, took, err := b.backupNow(ctx, ns, "full")
	if err != nil {
		return err
	}
	cmdsAfter, err := emu.commands(ctx)
	if err != nil {
		return err
	}
	br.FullTime, br.FullBytes, br.FullContacts = secs(took), full.Bytes, full.Contacts
	br.Commands = commandDelta(cmdsBefore, cmdsAfter)
	// An export per server, run in parallel: the busier server bounds it; every user is exported once.
	br.ExportFloor = secs(max(time.Duration(computeFloor(cfg.cost, br.Commands, len(br.Commands), work{Exports: cfg.users}).Floor),
		wholeExportFloor(cfg.cost, cfg.users/2)))
	b.logf("Full backup: %s, %d bytes, %d contacts", fmtDur(took), full.Bytes, full.Contacts)

	changed, err := changeContacts(ctx, emu, 100)
	if err != nil {
		return err
	}
	br.Changed = changed
	incr, took, err := b.backupNow(ctx, ns, "incremental")
	if err != nil {
		return err
	}
	br.IncrementalTime, br.IncrementalBytes, br.IncrementalUsers = secs(took), incr.Bytes, incr.Users
	// What an incremental backup that costs what changed needs: one command per server and the
	// changed users' exports.
	br.IncrementalFloor = computeFloor(cfg.cost, map[string]int{"ocs1": 1, "ocs2": 1}, 2, work{Exports: changed}).Floor
	b.logf("Incremental backup (%d users changed): %s, %d bytes", changed, fmtDur(took), incr.Bytes)

	// Scenario 1: failover.
	return b.crashAndFailover(ctx, emu, ns)
}

func (b *bench) crashAndFailover(ctx context.Context, emu *emulator, ns string) error {
	cfg := b.cfg
	fr := &failoverResult{Users: cfg.users, ConfiguredDelay: secs(cfg.delay)}
	b.res.Failover = fr
	before, err := emu.users(ctx)
	if err != nil {
		return err
	}
	expected := map[string]int{}
	for _, u := range before {
		expected[u.SIP] = u.Contacts
		if u.Home == "ocs2" {
			fr.Evacuated++
		}
	}
	h, err := getHoming(ctx, b.cp.client, ns)
	if err != nil {
		return err
	}
	ft := &failoverTimes{}
	if h.Status.LastOperation != nil {
		ft.prevOp = h.Status.LastOperation.ID
	}

	ft.usageStart = b.usage(emu)
	if err := emu.send(ctx, "POST", "/servers/ocs2/crash", nil); err != nil {
		return err
	}
	ft.t0 = time.Now()
	b.logf("Crashed ocs2 (%d users homed there)", fr.Evacuated)
	err = poll(ctx, cfg.pollInterval, cfg.scenarioLimit+cfg.delay, "the failover to complete", func() (bool, error) {
		return b.observeFailover(ctx, emu, ns, ft)
	})
	if err != nil {
		return err
	}
	cmdsEnd, err := emu.commands(ctx)
	if err != nil {
		return err
	}
	b.recordFailoverTimes(fr, ft, cmdsEnd)
	fr.OwnCost = ownCost(ft.usageStart, b.usage(emu), ft.peakRSS, fr.Evacuated)
	if err := checkSurvivor(ctx, emu, expected, fr); err != nil {
		return err
	}
	b.logf("Failover: total %s (detection %s, delay %s, moves %s, restore %s); floor %s; %d users with a wrong contact count",
		fr.Total, fr.Detection, fr.Delay, fr.Moves, fr.Restore, fr.ActionFloor.Floor, fr.ContactsMismatch)
	return nil
}

// failoverTimes are the moments a failover run observed, from the crash (t0) on.
type failoverTimes struct {
	prevOp                                   string
	t0, detect, start, moved, complete, done time.Time
	cmdsStart                                map[string][]string
	last                                     *ocsv1.Operation
	// usageStart is the processes' usage before the crash; peakRSS the manager's largest RSS seen
	// by a poll since.
	usageStart processesUsage
	peakRSS    int64
}

// observeFailover is one poll of a failover run: it notes each moment the first time it is seen
// and reports whether the run is over.
func (b *bench) observeFailover(ctx context.Context, emu *emulator, ns string, ft *failoverTimes) (bool, error) {
	now := time.Now()
	if u, err := readProcUsage(b.manager.cmd.Process.Pid); err == nil {
		ft.peakRSS = max(ft.peakRSS, u.RSS)
	}
	if ft.detect.IsZero() {
		p, err := getPool(ctx, b.cp.client, ns)
		if err != nil {
			return false, err
		}
		if serverState(p, "ocs2") == ocsv1.ServerUnreachable {
			ft.detect = now
			b.logf("ocs2 Unreachable after %s", fmtDur(now.Sub(ft.t0)))
		}
	}
	h, err := getHoming(ctx, b.cp.client, ns)
	if err != nil {
		return false, err
	}
	op := h.Status.LastOperation
	if op == nil || op.ID == ft.prevOp || op.Type != ocsv1.OperationFailover {
		return false, nil
	}
	ft.last = op
	if ft.start.IsZero() {
		ft.start = now
		if ft.cmdsStart, err = emu.commands(ctx); err != nil {
			return false, err
		}
		b.logf("Failover operation started after %s", fmtDur(now.Sub(ft.t0)))
	}
	if ft.moved.IsZero() {
		homed, err := emu.homed(ctx)
		if err != nil {
			return false, err
		}
		if homed["ocs1"] == b.cfg.users {
			ft.moved = now
			b.logf("All users homed on ocs1 after %s", fmtDur(now.Sub(ft.t0)))
		}
	}
	if op.CompletionTime == nil {
		return false, nil
	}
	if ft.complete.IsZero() {
		ft.complete = now
		b.logf("Failover operation completed after %s", fmtDur(now.Sub(ft.t0)))
	}
	if isReady(h) {
		ft.done = now
		return true, nil
	}
	// Ready may follow completion by one reconcile; give it a little time, then stop.
	return now.Sub(ft.complete) > 30*time.Second, nil
}

// recordFailoverTimes turns the moments of a failover run into its phases and floors.
func (b *bench) recordFailoverTimes(fr *failoverResult, ft *failoverTimes, cmdsEnd map[string][]string) {
	cfg := b.cfg
	fr.Ready = !ft.done.IsZero()
	if ft.done.IsZero() {
		ft.done = ft.complete
	}
	if ft.detect.IsZero() {
		ft.detect = ft.start
	}
	if ft.moved.IsZero() || ft.moved.After(ft.done) {
		ft.moved = ft.done
	}
	fr.Detection = secs(ft.detect.Sub(ft.t0))
	fr.Delay = secs(ft.start.Sub(ft.detect))
	fr.Moves = secs(ft.moved.Sub(ft.start))
	fr.Restore = secs(ft.done.Sub(ft.moved))
	fr.Action = secs(ft.done.Sub(ft.start))
	fr.Total = secs(ft.done.Sub(ft.t0))
	fr.DetectionFloor = secs(time.Duration(cfg.threshold-1) * cfg.probeInterval)
	fr.DetectionCeiling = secs(time.Duration(cfg.threshold)*cfg.probeInterval + cfg.probeTimeout)
	readBacks, starts := readBacksOf(cfg, fr.Evacuated)
	fr.ActionFloor = computeFloor(cfg.cost, commandDelta(ft.cmdsStart, cmdsEnd), 1, work{Moves: fr.Evacuated, Imports: fr.Evacuated,
		ModuleLoads: moduleLoads(cfg, 1), ReadBacks: readBacks, ReadBackStarts: starts})
	fr.CommandKinds = classifyCommands(newCommands(ft.cmdsStart, cmdsEnd))
	fr.TotalFloor = fr.DetectionFloor + fr.ActionFloor.Floor
	fr.ActionRatio = ratio(time.Duration(fr.Action), time.Duration(fr.ActionFloor.Floor))
	fr.TotalRatio = ratio(time.Duration(fr.Total-fr.ConfiguredDelay), time.Duration(fr.TotalFloor))
	if ft.last != nil {
		fr.Forced, fr.ContactsRestored, fr.Failed = ft.last.Forced, ft.last.ContactsRestored, ft.last.Failed
	}
}

// checkSurvivor counts the users on the survivor and those whose contact count changed.
func checkSurvivor(ctx context.Context, emu *emulator, expected map[string]int, fr *failoverResult) error {
	after, err := emu.users(ctx)
	if err != nil {
		return err
	}
	for _, u := range after {
		if u.Home == "ocs1" {
			fr.UsersOnSurvivor++
		}
		if want, ok := expected[u.SIP]; !ok || want != u.Contacts {
			fr.ContactsMismatch++
		}
	}
	if len(after) != len(expected) {
		fr.ContactsMismatch += abs(len(expected) - len(after))
	}
	return nil
}

// backupNow requests a backup with the annotation and waits for status.lastHandledRequest.
// It returns the newest snapshot's summary and the time from the request to its handling.
func (b *bench) backupNow(ctx context.Context, ns, token string) (ocsv1.SnapshotSummary, time.Duration, error) {
	start := time.Now()
	if err := requestBackup(ctx, b.cp.client, ns, token); err != nil {
		return ocsv1.SnapshotSummary{}, 0, err
	}
	var snap ocsv1.SnapshotSummary
	err := poll(ctx, b.cfg.pollInterval, b.cfg.scenarioLimit, "ContactBackup "+ns+" to handle "+token, func() (bool, error) {
		cb, err := getBackup(ctx, b.cp.client, ns)
		if err != nil {
			return false, err
		}
		if cb.Status.LastHandledRequest != token {
			return false, nil
		}
		if len(cb.Status.Snapshots) == 0 {
			return false, fmt.Errorf("ContactBackup %s handled %q without a snapshot", ns, token)
		}
		snap = cb.Status.Snapshots[0]
		return true, nil
	})
	return snap, time.Since(start), err
}

// contactList mirrors the emulator's GET /users/{sip} shape, keeping unknown fields raw.
type contactList struct {
	SIP        string            `json:"sip"`
	Groups     json.RawMessage   `json:"groups"`
	Contacts   []json.RawMessage `json:"contacts"`
	Containers json.RawMessage   `json:"containers"`
}

// changeContacts adds one contact to every every-th user through the admin API and returns
// how many users it changed.
func changeContacts(ctx context.Context, emu *emulator, every int) (int, error) {
	users, err := emu.users(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := 0; i < len(users); i += every {
		var list contactList
		if err := emu.get(ctx, userPath(users[i].SIP), &list); err != nil {
			return n, err
		}
		c, err := json.Marshal(map[string]any{
			"buddy":             fmt.Sprintf("bench-change-%d@corp.example.com", i),
			"subscribePresence": true,
			"groups":            []int{1},
		})
		if err != nil {
			return n, fmt.Errorf("encoding a contact: %w", err)
		}
		list.Contacts = append(list.Contacts, c)
		if err := emu.send(ctx, "PUT", userPath(users[i].SIP)+"/contacts", list); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// waitSteady waits until the pool and the homing report Ready.
// scenarioPool starts an emulator with the scenario's users, the manager if it is not running,
// and a pool (with a ContactBackup when backupDir is set) in namespace ns, and waits until it is
// steady. done stops and deletes what it started.
func (b *bench) scenarioPool(ctx context.Context, ns, backupDir string) (*emulator, func(), error) {
	cfg := b.cfg
	emu, err := startEmulator(ctx, filepath.Join(b.binDir, "ocs-sim"), b.logDir,
		emulatorSpec{name: ns, users: cfg.users, contacts: cfg.contacts, cost: cfg.cost, product: cfg.product, pprof: cfg.pprof})
	if err != nil {
		return nil, nil, err
	}
	if emu.pprof != "" {
		b.logf("Emulator %s profiles: http://%s/debug/pprof/", ns, emu.pprof)
	}
	if err := b.ensureManager(); err != nil {
		emu.stop()
		return nil, nil, err
	}
	if err := createPool(ctx, b.cp.client, poolSpec{
		namespace: ns, emu: emu, probeInterval: cfg.probeInterval, probeTimeout: cfg.probeTimeout,
		threshold: int32(cfg.threshold), delay: cfg.delay, batchSize: int32(cfg.batchSize),
		backupDir: backupDir, product: cfg.product,
	}); err != nil {
		emu.stop()
		return nil, nil, err
	}
	done := func() {
		b.deletePool(ns)
		emu.stop()
	}
	if err := b.waitSteady(ctx, ns); err != nil {
		done()
		return nil, nil, err
	}
	return emu, done, nil
}

func (b *bench) waitSteady(ctx context.Context, ns string) error {
	return poll(ctx, 200*time.Millisecond, b.cfg.scenarioLimit, "OCSPool and UserHoming "+ns+" Ready", func() (bool, error) {
		p, err := getPool(ctx, b.cp.client, ns)
		if err != nil {
			return false, err
		}
		h, err := getHoming(ctx, b.cp.client, ns)
		if err != nil {
			return false, err
		}
		return isReady(p) && isReady(h), nil
	})
}

// deletePool removes a scenario's objects so the manager stops probing a stopped emulator.
func (b *bench) deletePool(ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = b.cp.client.DeleteAllOf(ctx, &ocsv1.UserHoming{}, client.InNamespace(ns))
	_ = b.cp.client.DeleteAllOf(ctx, &ocsv1.ContactBackup{}, client.InNamespace(ns))
	_ = b.cp.client.DeleteAllOf(ctx, &ocsv1.OCSPool{}, client.InNamespace(ns))
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
