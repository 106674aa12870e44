package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/yaml"
)

// reportFlags are the flags of report.
type reportFlags struct {
	out             string
	managerLogs     bool
	managerNS       string
	managerSelector string
	since           time.Duration
	tail            int64
}

// BundleManifest says what a support bundle holds; -o json|yaml prints it.
type BundleManifest struct {
	Path  string   `json:"path"`
	Files []string `json:"files"`
	// Errors are what could not be collected; the bundle is written anyway.
	Errors []string `json:"errors,omitempty"`
}

func newReportCommand(o *options) *cobra.Command {
	f := reportFlags{}
	cmd := &cobra.Command{
		Use:   "report <pool>",
		Short: "Write a support bundle: the pool, its homings and backups, their events, manager logs",
		Long: "report writes the pool, the UserHomings and ContactBackups that name it (and the namespace's\n" +
			"ContactRestores), their events, the status screen and, with --manager-logs, recent manager log lines\n" +
			"into a .tar.gz (or a directory when --out does not end in .tar.gz). Secrets are never read; fields\n" +
			"and text that look like credentials are replaced by REDACTED.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.report(cmd.Context(), args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.out, "out", "", "Where to write the bundle (default ocs-report-<namespace>-<pool>-<time>.tar.gz).")
	cmd.Flags().BoolVar(&f.managerLogs, "manager-logs", false, "Add the manager pods' recent log lines (needs pods/log in --manager-namespace).")
	cmd.Flags().StringVar(&f.managerNS, "manager-namespace", "ocs-ha-system", "Namespace of the manager's pods.")
	cmd.Flags().StringVar(&f.managerSelector, "manager-selector", "control-plane=controller-manager", "Label selector of the manager's pods.")
	cmd.Flags().DurationVar(&f.since, "since", time.Hour, "How far back manager log lines go.")
	cmd.Flags().Int64Var(&f.tail, "tail", 5000, "At most this many log lines per container.")
	return cmd
}

// collector gathers the files of a bundle; what fails to be read becomes an error line.
type collector struct {
	o      *options
	ns     string
	b      bundle
	files  []string
	errors []string
}

func (c *collector) add(name string, data []byte) {
	if err := c.b.add(name, data); err != nil {
		c.fail(err)
		return
	}
	c.files = append(c.files, name)
}

func (c *collector) fail(err error) { c.errors = append(c.errors, redactText(err.Error())) }

func (o *options) report(ctx context.Context, pool string, f reportFlags) error {
	now := o.now()
	if f.out == "" {
		f.out = fmt.Sprintf("ocs-report-%s-%s-%s.tar.gz", o.namespace, pool, now.UTC().Format("20060102T150405Z"))
	}
	// The pool must exist: a bundle of nothing helps no one.
	if _, err := o.dyn.Resource(poolGVR).Namespace(o.namespace).Get(ctx, pool, metav1.GetOptions{}); err != nil {
		return fmt.Errorf("reading OCSPool %s/%s: %w", o.namespace, pool, err)
	}
	b, err := openBundle(f.out, now)
	if err != nil {
		return err
	}
	c := &collector{o: o, ns: o.namespace, b: b}
	c.collect(ctx, pool, f)
	if len(c.errors) > 0 {
		c.add("errors.txt", []byte(strings.Join(c.errors, "\n")+"\n"))
	}
	if err := b.close(); err != nil {
		return fmt.Errorf("closing the bundle %s: %w", f.out, err)
	}
	m := BundleManifest{Path: f.out, Files: c.files, Errors: c.errors}
	if o.output != outputTable {
		return o.printObject(m)
	}
	fmt.Fprintf(o.streams.Out, "Wrote %s: %d files (secrets not read, credentials redacted).\n", f.out, len(c.files))
	for _, e := range c.errors {
		fmt.Fprintf(o.streams.ErrOut, "Not collected: %s\n", e)
	}
	return nil
}

func (c *collector) collect(ctx context.Context, pool string, f reportFlags) {
	if r, err := c.o.collectStatus(ctx, c.ns, pool); err != nil {
		c.fail(err)
	} else {
		var txt bytes.Buffer
		if err := printStatus(&txt, r); err != nil {
			c.fail(err)
		}
		c.add("status.txt", []byte(redactText(txt.String())))
	}
	objects := c.collectObjects(ctx, pool)
	c.collectEvents(ctx, objects)
	if f.managerLogs {
		c.collectLogs(ctx, f)
	}
}

// collectObjects writes the pool, its homings and backups and the namespace's restores, redacted,
// and returns them for their events.
func (c *collector) collectObjects(ctx context.Context, pool string) []unstructured.Unstructured {
	var all []unstructured.Unstructured
	if u, err := c.o.dyn.Resource(poolGVR).Namespace(c.ns).Get(ctx, pool, metav1.GetOptions{}); err != nil {
		c.fail(fmt.Errorf("reading OCSPool %s/%s: %w", c.ns, pool, err))
	} else {
		all = append(all, *u)
	}
	for _, list := range []func() ([]unstructured.Unstructured, error){
		func() ([]unstructured.Unstructured, error) { return c.o.listForPool(ctx, homingGVR, c.ns, pool) },
		func() ([]unstructured.Unstructured, error) { return c.o.listForPool(ctx, backupGVR, c.ns, pool) },
		func() ([]unstructured.Unstructured, error) { return c.listRestores(ctx) },
	} {
		items, err := list()
		if err != nil {
			c.fail(err)
		}
		all = append(all, items...)
	}
	for i := range all {
		u := &all[i]
		data, err := yaml.Marshal(redactObject(u.Object))
		if err != nil {
			c.fail(fmt.Errorf("encoding %s %s: %w", u.GetKind(), u.GetName(), err))
			continue
		}
		c.add(fmt.Sprintf("objects/%s/%s.yaml", strings.ToLower(u.GetKind()), u.GetName()), data)
	}
	return all
}

// listRestores lists the namespace's ContactRestores when the kind exists; a restore names a
// backup, not a pool, so all of them go in.
func (c *collector) listRestores(ctx context.Context) ([]unstructured.Unstructured, error) {
	ok, err := c.o.hasResource(restoreGVR.GroupVersion(), restoreGVR.Resource)
	if err != nil || !ok {
		return nil, err
	}
	list, err := c.o.dyn.Resource(restoreGVR).Namespace(c.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing ContactRestores in namespace %s: %w", c.ns, err)
	}
	return list.Items, nil
}

// collectEvents writes the events of the objects, oldest first, as a table and as YAML.
func (c *collector) collectEvents(ctx context.Context, objects []unstructured.Unstructured) {
	var events []corev1.Event
	for i := range objects {
		sel := fields.Set{"involvedObject.kind": objects[i].GetKind(), "involvedObject.name": objects[i].GetName()}.AsSelector().String()
		list, err := c.o.kube.CoreV1().Events(c.ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			c.fail(fmt.Errorf("listing the events of %s %s: %w", objects[i].GetKind(), objects[i].GetName(), err))
			continue
		}
		events = append(events, list.Items...)
	}
	sort.SliceStable(events, func(i, j int) bool { return eventTime(&events[i]).Before(eventTime(&events[j])) })
	var txt bytes.Buffer
	if err := writeEvents(&txt, events); err != nil {
		c.fail(err)
	}
	c.add("events.txt", []byte(txt.String()))
	for i := range events {
		events[i].ManagedFields = nil
		events[i].Message = redactText(events[i].Message)
	}
	data, err := yaml.Marshal(map[string]any{"items": events})
	if err != nil {
		c.fail(fmt.Errorf("encoding the events: %w", err))
		return
	}
	c.add("events.yaml", data)
}

// eventTime is when an event last happened, whichever API wrote it.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func writeEvents(w io.Writer, events []corev1.Event) error {
	if len(events) == 0 {
		_, err := fmt.Fprintln(w, "No events (the API server keeps them for an hour by default).")
		return err
	}
	t := newTable(w, "TIME", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE")
	for i := range events {
		e := &events[i]
		count := e.Count
		if count == 0 && e.Series != nil {
			count = e.Series.Count
		}
		t.add(eventTime(e).UTC().Format(time.RFC3339), e.Type, e.Reason, e.InvolvedObject.Kind+"/"+e.InvolvedObject.Name,
			fmt.Sprint(max(count, 1)), redactText(oneLine(e.Message)))
	}
	return t.flush()
}

// collectLogs writes the recent log lines of every container of the manager's pods, redacted.
func (c *collector) collectLogs(ctx context.Context, f reportFlags) {
	pods, err := c.o.kube.CoreV1().Pods(f.managerNS).List(ctx, metav1.ListOptions{LabelSelector: f.managerSelector})
	if err != nil {
		c.fail(fmt.Errorf("listing the manager pods in namespace %s (%s): %w", f.managerNS, f.managerSelector, err))
		return
	}
	if len(pods.Items) == 0 {
		c.fail(fmt.Errorf("no manager pod in namespace %s matches %s: set --manager-namespace and --manager-selector", f.managerNS, f.managerSelector))
		return
	}
	since := int64(f.since.Seconds())
	for _, p := range pods.Items {
		for _, ctr := range p.Spec.Containers {
			req := c.o.kube.CoreV1().Pods(f.managerNS).GetLogs(p.Name, &corev1.PodLogOptions{
				Container: ctr.Name, SinceSeconds: &since, TailLines: &f.tail, Timestamps: true,
			})
			raw, err := req.DoRaw(ctx)
			if err != nil {
				c.fail(fmt.Errorf("reading the logs of pod %s/%s container %s: %w", f.managerNS, p.Name, ctr.Name, err))
				continue
			}
			if len(raw) == 0 {
				raw = []byte(fmt.Sprintf("No log lines in the last %s.", f.since))
			}
			c.add(fmt.Sprintf("manager-logs/%s_%s.log", p.Name, ctr.Name), redactLines(raw))
		}
	}
}

// redactLines redacts log text line by line.
func redactLines(raw []byte) []byte {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		out.WriteString(redactText(sc.Text()))
		out.WriteByte('\n')
	}
	return out.Bytes()
}
