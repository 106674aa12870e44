package main

import (
	"context"
	"time"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// drain runs scenario 2: ocs1 goes into maintenance and its users move to ocs2 with their contacts.
func (b *bench) drain(ctx context.Context) error {
	cfg := b.cfg
	ns := b.namespace("drain")
	emu, done, err := b.scenarioPool(ctx, ns, "")
	if err != nil {
		return err
	}
	defer done()
	dr := &drainResult{}
	b.res.Drain = dr
	before, err := emu.users(ctx)
	if err != nil {
		return err
	}
	expected := map[string]int{}
	for _, u := range before {
		expected[u.SIP] = u.Contacts
		if u.Home == "ocs1" {
			dr.Users++
		}
	}
	cmdsBefore, err := emu.commands(ctx)
	if err != nil {
		return err
	}
	if err := setMaintenance(ctx, b.cp.client, ns, 0, true); err != nil {
		return err
	}
	t0 := time.Now()
	b.logf("Put ocs1 in maintenance (%d users homed there)", dr.Users)
	err = poll(ctx, cfg.pollInterval, cfg.scenarioLimit, "ocs1 Drained", func() (bool, error) {
		p, err := getPool(ctx, b.cp.client, ns)
		if err != nil {
			return false, err
		}
		return serverState(p, "ocs1") == ocsv1.ServerDrained, nil
	})
	if err != nil {
		return err
	}
	dr.Total = secs(time.Since(t0))
	cmdsAfter, err := emu.commands(ctx)
	if err != nil {
		return err
	}
	after, err := emu.users(ctx)
	if err != nil {
		return err
	}
	for _, u := range after {
		if u.Home == "ocs2" {
			dr.Drained++
		}
		if want, ok := expected[u.SIP]; !ok || want != u.Contacts {
			dr.ContactsMismatch++
		}
	}
	dr.Lost = max(len(expected)-len(after), 0)
	dr.Drained -= len(expected) - dr.Users
	// Both servers are up during a drain, so the per-user work could be spread over both.
	dr.Floor = computeFloor(cfg.cost, commandDelta(cmdsBefore, cmdsAfter), 2, work{Moves: dr.Users, ModuleLoads: moduleLoads(cfg, 2)})
	dr.CommandKinds = classifyCommands(newCommands(cmdsBefore, cmdsAfter))
	dr.Ratio = ratio(time.Duration(dr.Total), time.Duration(dr.Floor.Floor))
	b.logf("Drain: %s for %d users; floor %s; %d users with a wrong contact count", dr.Total, dr.Drained, dr.Floor.Floor, dr.ContactsMismatch)
	return nil
}
