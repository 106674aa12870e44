package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// manual runs scenario 3, the admins' scripted procedure, one user at a time: while ocs2 is up,
// one dbimpexp export per user (the "old export" they restore from); after ocs2 crashed, one
// forced move and one import per user, serially, through the same agent the operator uses.
func (b *bench) manual(ctx context.Context) error {
	cfg := b.cfg
	emu, err := startEmulator(ctx, filepath.Join(b.binDir, "ocs-sim"), b.logDir,
		emulatorSpec{name: b.namespace("manual"), users: cfg.users, contacts: cfg.contacts, cost: cfg.cost})
	if err != nil {
		return err
	}
	defer emu.stop()

	// The transport's defaults, but a shell per command as winrs.exe opens one per invocation: the
	// admins' script runs one winrs (or Invoke-Command) per step.
	pool := winrm.NewPool(winrm.Options{ShellIdle: -1})
	defer pool.Close()
	agent, err := manualAgent(emu, pool)
	if err != nil {
		return err
	}

	users, err := emu.users(ctx)
	if err != nil {
		return err
	}
	onOCS2 := sipsHomedOn(users, "ocs2")
	mr := &manualResult{Target: len(onOCS2), Sample: len(onOCS2)}
	if cfg.manualSample > 0 && cfg.manualSample < len(onOCS2) {
		mr.Sample = cfg.manualSample
	}
	b.res.Manual = mr
	sample := onOCS2[:mr.Sample]

	// One batch beyond the sample times the agent's batch operations, the operator's building
	// blocks. Its export is ExportContacts(ocs2, batch), which exports the whole server.
	batch := onOCS2[mr.Sample:min(mr.Sample+opBatch, len(onOCS2))]
	batchDoc, err := exportBatch(ctx, agent, batch, mr)
	if err != nil {
		return err
	}

	cmdsBefore, err := emu.commands(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	docs, err := exportOneByOne(ctx, pool, sample)
	if err != nil {
		return err
	}
	mr.Export = secs(time.Since(start))
	b.logf("Manual: exported %d users one by one in %s", len(sample), mr.Export)

	if err := emu.send(ctx, "POST", "/servers/ocs2/crash", nil); err != nil {
		return err
	}
	start = time.Now()
	if err := moveAndImportOneByOne(ctx, agent, sample, docs, mr); err != nil {
		return err
	}
	mr.MoveImport = secs(time.Since(start))
	cmdsAfter, err := emu.commands(ctx)
	if err != nil {
		return err
	}

	if len(batch) > 0 {
		if err := timeBatchOperations(ctx, agent, batch, batchDoc, mr); err != nil {
			return err
		}
		mr.Ops.ExportAllUsers = len(users) - len(onOCS2) + mr.Sample + len(batch)
	}
	mr.summarise(cfg.cost, commandDelta(cmdsBefore, cmdsAfter))

	if err := checkManualSample(ctx, emu, sample, cfg.contacts, mr); err != nil {
		return err
	}
	b.logf("Manual: %d users in %s (%s per user), %d failed; extrapolated to %d users: %s",
		mr.Sample, mr.Measured, mr.PerUser, mr.Failed, mr.Target, mr.Total)
	return nil
}

// sipsHomedOn lists, sorted, the users homed on server.
func sipsHomedOn(users []simUser, server string) []string {
	var out []string
	for _, u := range users {
		if u.Home == server {
			out = append(out, u.SIP)
		}
	}
	sort.Strings(out)
	return out
}

// exportBatch times the agent's export of a batch (a whole-server export); nil for no batch.
func exportBatch(ctx context.Context, agent ocs.Agent, batch []string, mr *manualResult) (*contacts.Document, error) {
	mr.Ops.BatchSize = len(batch)
	if len(batch) == 0 {
		return nil, nil
	}
	start := time.Now()
	doc, err := agent.ExportContacts(ctx, "ocs2", batch)
	if err != nil {
		return nil, fmt.Errorf("agent export of a batch: %w", err)
	}
	mr.Ops.ExportHalf = secs(time.Since(start))
	return doc, nil
}

// summarise derives the per-user time, the extrapolation and the floor from the measurements.
func (mr *manualResult) summarise(cost costModel, commands map[string]int) {
	mr.Measured = mr.Export + mr.MoveImport
	mr.PerUser = secs(time.Duration(mr.Measured) / time.Duration(mr.Sample))
	mr.Extrapolated = mr.Sample < mr.Target
	mr.Total = secs(time.Duration(mr.PerUser) * time.Duration(mr.Target))
	// The script runs one command at a time: its floor has a concurrency of one.
	serial := cost
	serial.Concurrency = 1
	// Each user is exported once (dbimpexp /user:), moved and imported.
	// The script imports through the agent, which verifies each import as the operator does.
	mr.Floor = computeFloor(serial, commands, 1, work{Moves: mr.Sample, Imports: mr.Sample, Exports: mr.Sample, ReadBacks: mr.Sample, ReadBackStarts: true})
	mr.Ratio = ratio(time.Duration(mr.Measured), time.Duration(mr.Floor.Floor))
}

// exportOneByOne is the admin's export of each user of the sample, one command per user.
func exportOneByOne(ctx context.Context, pool *winrm.Pool, sample []string) (map[string]*contacts.Document, error) {
	docs := make(map[string]*contacts.Document, len(sample))
	for _, u := range sample {
		doc, err := exportOneUser(ctx, pool, "ocs2", u)
		if err != nil {
			return nil, fmt.Errorf("manual export of %s: %w", u, err)
		}
		docs[u] = doc
	}
	return docs, nil
}

// manualAgent is the agent of the emulator's two servers over pool.
func manualAgent(emu *emulator, pool *winrm.Pool) (ocs.Agent, error) {
	var targets []winrm.Target
	var servers []ocs.Server
	for _, name := range []string{"ocs1", "ocs2"} {
		targets = append(targets, winrm.Target{Server: name, Endpoint: emu.endpoints[name], Auth: winrm.AuthBasic,
			Username: emu.username, Password: emu.password, AllowUnencryptedBasic: true})
		servers = append(servers, ocs.Server{Name: name, FQDN: name + ".corp.example.com"})
	}
	if err := pool.SetTargets(targets); err != nil {
		return nil, fmt.Errorf("configuring the WinRM pool: %w", err)
	}
	agent, err := ocs.NewAgent(ocs.ProductOCS2007R2, servers, pool)
	if err != nil {
		return nil, fmt.Errorf("creating the agent: %w", err)
	}
	return agent, nil
}

// moveAndImportOneByOne is the admin's script: each user force-moved, then its contacts imported.
func moveAndImportOneByOne(ctx context.Context, agent ocs.Agent, sample []string, docs map[string]*contacts.Document, mr *manualResult) error {
	for _, u := range sample {
		res, err := agent.MoveUsers(ctx, "ocs1", []string{u}, "ocs1", true)
		if err != nil {
			return fmt.Errorf("manual forced move of %s: %w", u, err)
		}
		if len(res) != 1 || !res[0].OK {
			mr.Failed++
			continue
		}
		imp, err := agent.ImportContacts(ctx, "ocs1", docs[u])
		if err != nil {
			return fmt.Errorf("manual import of %s: %w", u, err)
		}
		for _, r := range imp {
			if !r.OK {
				mr.Failed++
			}
		}
	}
	return nil
}

// timeBatchOperations times the agent's batch operations, the operator's building blocks.
func timeBatchOperations(ctx context.Context, agent ocs.Agent, batch []string, batchDoc *contacts.Document, mr *manualResult) error {
	start := time.Now()
	if _, err := agent.ListUsers(ctx, "ocs1"); err != nil {
		return fmt.Errorf("agent listing: %w", err)
	}
	mr.Ops.ListUsers = secs(time.Since(start))
	start = time.Now()
	if _, err := agent.MoveUsers(ctx, "ocs1", batch, "ocs1", true); err != nil {
		return fmt.Errorf("agent forced move of a batch: %w", err)
	}
	mr.Ops.MoveBatch = secs(time.Since(start))
	start = time.Now()
	if _, err := agent.ImportContacts(ctx, "ocs1", batchDoc); err != nil {
		return fmt.Errorf("agent import of a batch: %w", err)
	}
	mr.Ops.ImportBatch = secs(time.Since(start))
	start = time.Now()
	if _, err := agent.ExportContacts(ctx, "ocs1", nil); err != nil {
		return fmt.Errorf("agent export of ocs1: %w", err)
	}
	mr.Ops.ExportAll = secs(time.Since(start))
	return nil
}

// checkManualSample counts the users of the sample not on ocs1 with all their contacts.
func checkManualSample(ctx context.Context, emu *emulator, sample []string, want int, mr *manualResult) error {
	after, err := emu.users(ctx)
	if err != nil {
		return err
	}
	byUser := map[string]simUser{}
	for _, u := range after {
		byUser[u.SIP] = u
	}
	for _, u := range sample {
		if got := byUser[u]; got.Home != "ocs1" || got.Contacts != want {
			mr.Failed++
		}
	}
	return nil
}

// opBatch is the size of the batch that times the agent's batch operations (the default
// UserHoming moveBatchSize).
const opBatch = 100

// exportOneUser runs the admin's per-user export, `dbimpexp /user:<u>` into a temporary file,
// and reads the file back in the same command line, as docs/admin-scripts.md renders the
// agent's whole-server export. The agent's own single-user export runs dbimpexp from a PowerShell
// script; the bench renders the admins' plainer command line.
func exportOneUser(ctx context.Context, exec ocs.Executor, server, sip string) (*contacts.Document, error) {
	if !sipPattern.MatchString(sip) {
		return nil, fmt.Errorf("refusing to export %q: not a plain SIP address", sip)
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("naming the export file: %w", err)
	}
	name := "ocsha-" + hex.EncodeToString(rnd[:]) + ".xml"
	script := "$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\n" +
		"$p = Join-Path $env:TEMP '" + name + "'\n" +
		// Framed as the agent frames files: base64 lines of 76 characters stay within a console
		// width of 80, which would otherwise wrap one long line.
		"$d = [IO.File]::ReadAllBytes($p)\n" +
		"'" + ocs.FrameMarkers[0] + "'\n[Convert]::ToBase64String($d, [Base64FormattingOptions]::InsertLineBreaks)\n'" + ocs.FrameMarkers[1] + " ' + $d.Length\n" +
		"Remove-Item -LiteralPath $p\n"
	u16 := utf16.Encode([]rune(script))
	raw := make([]byte, 2*len(u16))
	for i, c := range u16 {
		raw[2*i], raw[2*i+1] = byte(c), byte(c>>8)
	}
	// DBImpExp.exe is not on PATH: the admins call it at the path they copied it to, and cmd /C
	// strips the outer quotes of a line that starts with a quoted program.
	line := `""` + manualDBImpExp + `" /hrxmlfile:"%TEMP%\` + name + `" /restype:user /user:` + strings.TrimPrefix(sip, "sip:") +
		" && powershell.exe -NoProfile -NonInteractive -EncodedCommand " + base64.StdEncoding.EncodeToString(raw) + `"`
	res, err := exec.Run(ctx, server, line, []byte{})
	if err != nil {
		return nil, fmt.Errorf("exporting %s on %s: %w", sip, server, err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("exporting %s on %s: exit code %d: %s", sip, server, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	frames, err := ocs.ParseFrames(res.Stdout)
	if err != nil || len(frames) != 1 {
		return nil, fmt.Errorf("exporting %s on %s: want one file in the output: %w", sip, server, err)
	}
	doc, err := contacts.ParseHomedResources(frames[0])
	if err != nil {
		return nil, fmt.Errorf("exporting %s on %s: %w", sip, server, err)
	}
	return doc, nil
}

// manualDBImpExp is where the admins' scripts find DBImpExp.exe, the agent's default path.
const manualDBImpExp = `%CommonProgramFiles%\Microsoft Office Communications Server 2007 R2\Support\DBImpExp.exe`

// sipPattern is the address shape docs/admin-scripts.md allows on a command line.
var sipPattern = regexp.MustCompile(`^sip:[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+$`)
