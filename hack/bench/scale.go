package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// scale runs scenario 6: a fresh manager reconciles scalePools pools (one emulator each) for
// scaleDuration; the bench reads its peak RSS (VmHWM) and CPU time from /proc. Every pool takes
// one backup-now once it is Ready, so the backup path's memory is part of the peak.
func (b *bench) scale(ctx context.Context) error {
	cfg := b.cfg
	// A fresh process: the peak must not carry what earlier scenarios allocated.
	b.manager.stop()
	b.manager = nil

	var emus []*emulator
	defer func() {
		for _, e := range emus {
			e.stop()
		}
	}()
	for i := range cfg.scalePools {
		e, err := startEmulator(ctx, filepath.Join(b.binDir, "ocs-sim"), b.logDir, emulatorSpec{
			name: fmt.Sprintf("scale-%02d", i), users: cfg.scaleUsers, contacts: cfg.scaleContacts, cost: cfg.cost})
		if err != nil {
			return err
		}
		emus = append(emus, e)
	}
	b.logf("Started %d emulators (%d users each)", len(emus), cfg.scaleUsers)

	m, err := startManager(filepath.Join(b.binDir, "manager"), b.cp.kubeconfig, filepath.Join(b.logDir, "manager-scale.log"), b.managerFlags()...)
	if err != nil {
		return err
	}
	defer m.stop()
	sp := &scaleProgress{t0: time.Now(), ready: map[string]bool{}, requested: map[string]bool{}, backedUp: map[string]bool{}}
	sr := &scaleResult{Pools: cfg.scalePools, UsersPerPool: cfg.scaleUsers, Users: cfg.scalePools * cfg.scaleUsers}
	b.res.Scale = sr
	for i, e := range emus {
		ns := fmt.Sprintf("scale-%02d", i)
		sp.namespaces = append(sp.namespaces, ns)
		// Production defaults for probing and failover: this is a steady state, not a drill.
		if err := createPool(ctx, b.cp.client, poolSpec{
			namespace: ns, emu: e, probeInterval: 10 * time.Second, probeTimeout: 5 * time.Second,
			threshold: 3, delay: time.Minute, batchSize: 100,
			backupDir: filepath.Join(cfg.work, "backups", ns),
		}); err != nil {
			return err
		}
	}
	if err := b.runScale(ctx, m, sp, sr); err != nil {
		return err
	}
	b.logf("Scale: peak RSS %.1f MiB, CPU %s over %s (%.1f%% of one core), %d/%d pools Ready, %d backups",
		sr.PeakRSSMiB, sr.CPU, sr.Duration, sr.CPUPercent, sr.ReadyPools, sr.Pools, sr.Backups)
	for _, ns := range sp.namespaces {
		b.deletePool(ns)
	}
	return nil
}

// scaleProgress is what the scale scenario has seen of its pools.
type scaleProgress struct {
	t0                         time.Time
	namespaces                 []string
	ready, requested, backedUp map[string]bool
	usage                      procUsage
}

// runScale watches the manager and the pools for cfg.scaleDuration, then records the usage.
func (b *bench) runScale(ctx context.Context, m *managerProc, sp *scaleProgress, sr *scaleResult) error {
	// The scenario runs for a fixed time by design; the ticker paces the status reads.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.NewTimer(b.cfg.scaleDuration)
	defer deadline.Stop()
	lastReport := time.Now()
loop:
	for {
		u, err := readProcUsage(m.cmd.Process.Pid)
		if err != nil {
			return fmt.Errorf("manager: %w", err)
		}
		sp.usage = u
		for _, ns := range sp.namespaces {
			if err := b.observeScalePool(ctx, ns, sp, sr); err != nil {
				return err
			}
		}
		if time.Since(lastReport) >= 30*time.Second {
			lastReport = time.Now()
			b.logf("Scale: %s elapsed, RSS %.1f MiB (peak %.1f), CPU %s, %d/%d pools Ready, %d backups",
				fmtDur(time.Since(sp.t0)), mib(sp.usage.RSS), mib(sp.usage.HWM), sp.usage.UserSys, len(sp.ready), len(sp.namespaces), len(sp.backedUp))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			break loop
		case <-tick.C:
		}
	}
	if u, err := readProcUsage(m.cmd.Process.Pid); err == nil {
		sp.usage = u
	}
	sr.Duration = secs(time.Since(sp.t0))
	sr.PeakRSSMiB = mib(sp.usage.HWM)
	sr.FinalRSSMiB = mib(sp.usage.RSS)
	sr.FileRSSMiB = mib(sp.usage.RSSFile)
	sr.CPU = sp.usage.UserSys
	sr.CPUPercent = 100 * time.Duration(sp.usage.UserSys).Seconds() / time.Duration(sr.Duration).Seconds()
	sr.ReadyPools = len(sp.ready)
	sr.Backups = len(sp.backedUp)
	return nil
}

// observeScalePool notes when the pool of ns becomes Ready, requests its backup once it is time,
// and notes when the backup is done.
func (b *bench) observeScalePool(ctx context.Context, ns string, sp *scaleProgress, sr *scaleResult) error {
	if !sp.ready[ns] {
		p, err1 := getPool(ctx, b.cp.client, ns)
		h, err2 := getHoming(ctx, b.cp.client, ns)
		if err1 == nil && err2 == nil && isReady(p) && isReady(h) {
			sp.ready[ns] = true
			if len(sp.ready) == len(sp.namespaces) {
				sr.AllReady = secs(time.Since(sp.t0))
				b.logf("All %d pools Ready after %s", len(sp.namespaces), sr.AllReady)
			}
		}
	}
	// Backups start once every pool is Ready (or half the time has passed), so that the peak
	// before them is the steady state of all pools.
	backupTime := len(sp.ready) == len(sp.namespaces) || time.Since(sp.t0) > b.cfg.scaleDuration/2
	if backupTime && len(sp.requested) == 0 {
		sr.PeakBeforeBackupsMiB = mib(sp.usage.HWM)
	}
	if backupTime && sp.ready[ns] && !sp.requested[ns] {
		if err := requestBackup(ctx, b.cp.client, ns, "scale"); err != nil {
			return err
		}
		sp.requested[ns] = true
	}
	if sp.requested[ns] && !sp.backedUp[ns] {
		if cb, err := getBackup(ctx, b.cp.client, ns); err == nil && cb.Status.LastHandledRequest == "scale" {
			sp.backedUp[ns] = true
		}
	}
	return nil
}

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }
