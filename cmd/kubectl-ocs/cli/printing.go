package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"
)

// printObject prints v (an object or a report) as -o asks: JSON or YAML.
func (o *options) printObject(v any) error {
	return writeStructured(o.streams.Out, o.output, v)
}

func writeStructured(w io.Writer, format string, v any) error {
	var (
		out []byte
		err error
	)
	if format == outputYAML {
		out, err = yaml.Marshal(v)
	} else {
		out, err = json.MarshalIndent(v, "", "  ")
		out = append(out, '\n')
	}
	if err != nil {
		return fmt.Errorf("encoding the output: %w", err)
	}
	_, err = w.Write(out)
	return err
}

// table writes rows under a header as kubectl does: upper-case columns aligned by tabs.
type table struct {
	w    io.Writer
	rows [][]string
}

func newTable(w io.Writer, header ...string) *table {
	return &table{w: w, rows: [][]string{header}}
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) flush() error {
	tw := printers.GetNewTabWriter(t.w)
	for _, r := range t.rows {
		if _, err := fmt.Fprintln(tw, strings.Join(r, "\t")); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// printStatus writes the one-screen status of a pool.
func printStatus(w io.Writer, r StatusReport) error {
	head := fmt.Sprintf("OCSPool %s/%s (%s): %s, %s servers serving, %d users", r.Namespace, r.Pool,
		orDash(r.Product), orDash(r.Phase), orDash(r.Serving), r.HomedUsers)
	if r.Suspended {
		head += ", SUSPENDED (spec.suspend)"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w)
	servers := newTable(w, "SERVER", "STATE", "MAINTENANCE", "USERS", "DESIRED", "PREFLIGHT", "MESSAGE")
	for _, s := range r.Servers {
		servers.add(s.Name, s.State, onOff(s.Maintenance), strconv.Itoa(int(s.HomedUsers)), optInt(s.DesiredUsers),
			orDash(s.Preflight), oneLine(s.Message))
	}
	if err := servers.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := printHomings(w, r.Homings); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := printBackups(w, r.Backups); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return printAttention(w, r.Attention)
}

func printHomings(w io.Writer, homings []HomingReport) error {
	if len(homings) == 0 {
		fmt.Fprintln(w, "No UserHoming uses this pool: users are not kept spread or failed over.")
		return nil
	}
	t := newTable(w, "HOMING", "PHASE", "USERS", "PENDING", "OPERATION", "STEP", "PROGRESS", "FORCED", "RESTORED", "FAILED", "AGE")
	for _, h := range homings {
		op := h.Operation
		if op == nil {
			t.add(h.Name, orDash(h.Phase), itoa(h.TotalUsers), itoa(h.PendingMoves), "-", "-", "-", "-", "-", "-", "-")
			continue
		}
		opName := op.Type
		if op.Running {
			opName += " (running)"
		}
		t.add(h.Name, orDash(h.Phase), itoa(h.TotalUsers), itoa(h.PendingMoves), opName, orDash(op.Step), op.Progress,
			itoa(op.Forced), itoa(op.Restored), itoa(op.Failed), op.Age)
	}
	return t.flush()
}

func printBackups(w io.Writer, backups []BackupReport) error {
	if len(backups) == 0 {
		fmt.Fprintln(w, "No ContactBackup covers this pool: a failover could not restore contacts.")
		return nil
	}
	t := newTable(w, "BACKUP", "PHASE", "LAST SNAPSHOT", "AGE", "USERS", "CONTACTS", "VERIFIED")
	for _, b := range backups {
		if b.LastSnapshot == "" {
			t.add(b.Name, orDash(b.Phase), "<none>", "-", "-", "-", orDash(b.Verified))
			continue
		}
		t.add(b.Name, orDash(b.Phase), b.LastSnapshot, b.Age, itoa(b.Users), itoa(b.Contacts), orDash(b.Verified))
	}
	return t.flush()
}

func printAttention(w io.Writer, items []AttentionItem) error {
	if len(items) == 0 {
		fmt.Fprintln(w, "Nothing needs a human.")
		return nil
	}
	fmt.Fprintln(w, "NEEDS A HUMAN:")
	t := newTable(w, "OBJECT", "CONDITION", "REASON", "MESSAGE")
	for _, a := range items {
		t.add(a.Object, a.Condition, orDash(a.Reason), oneLine(a.Message))
	}
	return t.flush()
}

// printApproval writes what approve did.
func printApproval(w io.Writer, name string, d approvalDecision) error {
	p := d.proposal
	if d.already {
		fmt.Fprintf(w, "UserHoming %s: proposal %s was already approved.\n", name, p.ID)
	} else {
		fmt.Fprintf(w, "UserHoming %s: approved %s proposal %s (%s).\n", name, orDash(p.Operation), p.ID, p.summary())
	}
	if len(p.Moves) == 0 {
		return nil
	}
	t := newTable(w, "FROM", "TO", "USERS")
	for _, m := range p.Moves {
		t.add(m.From, m.To, strconv.FormatInt(m.Users, 10))
	}
	return t.flush()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

func optInt(p *int32) string {
	if p == nil {
		return "-"
	}
	return itoa(*p)
}

// oneLine keeps a table row on one line: messages may carry line breaks.
func oneLine(s string) string {
	if s == "" {
		return ""
	}
	return strings.Join(strings.Fields(s), " ")
}
