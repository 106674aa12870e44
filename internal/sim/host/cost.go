package host

import (
	"context"
	"strings"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/ps"
)

// Costs are Windows' own costs the emulator spends where Windows spends them (inferred.go,
// "Costs"). The zero value spends nothing, which is what the unit, controller and e2e tests
// rely on.
type Costs struct {
	// Process is spent at each start of an emulated program: powershell, sc, dbimpexp, lcscmd.
	Process time.Duration
	// Module is spent the first time a powershell process loads the product's module, by
	// Import-Module SkypeForBusiness|Lync or by autoloading at its first Cs cmdlet.
	Module time.Duration
	// Export is spent per user written by dbimpexp's export or Export-CsUserData.
	Export time.Duration
	// Spend, when set, spends a cost instead of a timer ("process", "module", "export"), so
	// that tests see where costs fall without measuring time.
	Spend func(ctx context.Context, kind string, d time.Duration) error
}

// spendCost spends d of the given kind of cost.
func (w *World) spendCost(ctx context.Context, kind string, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if w.costs.Spend != nil {
		return w.costs.Spend(ctx, kind, d)
	}
	return spend(ctx, d)
}

// started wraps a program so that each start first spends the process cost.
func (w *World) started(prog cmdexe.Program) cmdexe.Program {
	if w.costs.Process <= 0 {
		return prog
	}
	return func(ctx context.Context, p *cmdexe.Proc) int {
		if err := w.spendCost(ctx, "process", w.costs.Process); err != nil {
			return 1
		}
		return prog(ctx, p)
	}
}

// moduleLoader spends the module cost once per powershell process: the cmdlets of one process
// share it, as a loaded module stays loaded for the life of its runspace.
type moduleLoader struct {
	w      *World
	loaded bool
}

func (m *moduleLoader) load(ctx context.Context) error {
	if m.loaded {
		return nil
	}
	if err := m.w.spendCost(ctx, "module", m.w.costs.Module); err != nil {
		return err
	}
	m.loaded = true
	return nil
}

// autoload makes every cmdlet of the module load it first, as PowerShell 3.0+ does for a
// cmdlet of a module that is installed but not imported.
func (m *moduleLoader) autoload(r ps.Registry, names []string) {
	for _, n := range names {
		c := r[n]
		if c == nil {
			continue
		}
		run := c.Run
		wrapped := *c
		wrapped.Run = func(ctx context.Context, call *ps.Call) ([]any, error) {
			if err := m.load(ctx); err != nil {
				return nil, err
			}
			return run(ctx, call)
		}
		r[n] = &wrapped
	}
}

// renderExport renders an export of n users and spends its export cost less the time the
// rendering took: on Windows the per-user cost is the tool's reading and writing of each user,
// which the emulator's rendering stands in for, so the two are one cost, not two in a row.
func (w *World) renderExport(ctx context.Context, n int, render func() ([]byte, error)) ([]byte, error) {
	start := time.Now()
	data, err := render()
	if err != nil {
		return nil, err
	}
	owed := time.Duration(n)*w.costs.Export - time.Since(start)
	if w.costs.Spend != nil {
		// Tests that see where costs fall see the whole cost, not what the clock left of it.
		owed = time.Duration(n) * w.costs.Export
	}
	if err := w.spendCost(ctx, "export", owed); err != nil {
		return nil, err
	}
	return data, nil
}

// csCmdlets names the registered cmdlets of the product's module (lower-case keys).
func csCmdlets(r ps.Registry) []string {
	var out []string
	for k := range r {
		if _, noun, ok := strings.Cut(k, "-"); ok && strings.HasPrefix(noun, "cs") {
			out = append(out, k)
		}
	}
	return out
}
