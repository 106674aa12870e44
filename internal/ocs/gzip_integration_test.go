package ocs_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// recordingExec keeps the output of every command it runs for a test to look at.
type recordingExec struct {
	ocs.Executor
	mu   sync.Mutex
	outs [][]byte
}

func (r *recordingExec) Run(ctx context.Context, server, command string, stdin []byte) (ocs.Result, error) {
	res, err := r.Executor.Run(ctx, server, command, stdin)
	r.mu.Lock()
	r.outs = append(r.outs, res.Stdout)
	r.mu.Unlock()
	return res, err
}

// last returns the output of the last command.
func (r *recordingExec) last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outs[len(r.outs)-1]
}

// gzipFrames counts the gzip and the plain frames of an output.
func gzipFrames(out []byte) (zipped, plain int) {
	for _, line := range strings.Split(string(out), "\n") {
		switch strings.TrimSpace(line) {
		case ocs.FrameMarkers[0] + " gzip":
			zipped++
		case ocs.FrameMarkers[0]:
			plain++
		}
	}
	return zipped, plain
}

func recordingAgent(t *testing.T, e *env, product ocs.Product) (ocs.Agent, *recordingExec) {
	t.Helper()
	rec := &recordingExec{Executor: e.pool}
	servers := []ocs.Server{{Name: "ocs1", FQDN: "ocs1.corp.example.com"}, {Name: "ocs2", FQDN: "ocs2.corp.example.com"}}
	a, err := ocs.NewAgent(product, servers, rec)
	if err != nil {
		t.Fatal(err)
	}
	return a, rec
}

// On OCS 2007 R2 the big answers travel as gzip frames through the emulator's GZipStream: a
// whole-server export, a per-user export, the import's read-back and the user listing; they
// round-trip unchanged and take far fewer bytes than the XML they carry.
func TestEmulatorBigAnswersTravelCompressed(t *testing.T) {
	e := startEnv(t, ocs.ProductOCS2007R2, 200, 20, false)
	a, rec := recordingAgent(t, e, ocs.ProductOCS2007R2)
	ctx := testCtx(t)

	doc, err := a.ExportContacts(ctx, "ocs1", nil)
	if err != nil || len(doc.Resources) != 100 {
		t.Fatalf("export: %d users, %v", len(doc.Resources), err)
	}
	xml, _ := contacts.MarshalHomedResources(doc)
	out := rec.last()
	if zipped, plain := gzipFrames(out); zipped != 1 || plain != 0 {
		t.Fatalf("whole-server export: %d gzip and %d plain frames, want one gzip frame", zipped, plain)
	}
	if len(out) > len(xml)/2 {
		t.Fatalf("whole-server export took %d bytes of output for %d bytes of XML", len(out), len(xml))
	}

	few := []string{"sip:" + doc.Resources[0].UserAtHost, "sip:" + doc.Resources[1].UserAtHost, "sip:nobody@corp.example.com"}
	one, err := a.ExportContacts(ctx, "ocs1", few)
	if err != nil || len(one.Resources) != 2 || !reflect.DeepEqual(one.Resources, doc.Resources[:2]) {
		t.Fatalf("per-user export: %+v, %v", one, err)
	}
	// Two users' files gzipped; the user homed nowhere gets a (plain) no-file frame.
	if zipped, plain := gzipFrames(rec.last()); zipped != 2 || plain != 1 {
		t.Fatalf("per-user export: %d gzip and %d plain frames, want 2 and 1", zipped, plain)
	}

	imported := &contacts.Document{Resources: doc.Resources[:10]}
	for _, r := range imported.Resources {
		if err := e.sim.World().SetContacts("sip:"+r.UserAtHost, contacts.Resource{UserAtHost: r.UserAtHost}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := a.ImportContacts(ctx, "ocs1", imported)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.OK {
			t.Fatalf("import: %+v", r)
		}
	}
	if zipped, plain := gzipFrames(rec.last()); zipped != 10 || plain != 0 {
		t.Fatalf("import read-back: %d gzip and %d plain frames, want 10 gzip frames", zipped, plain)
	}
	again, err := a.ExportContacts(ctx, "ocs1", nil)
	if err != nil || !reflect.DeepEqual(again, doc) {
		t.Fatalf("the export after the import differs from the one before (%v)", err)
	}

	users, err := a.ListUsers(ctx, "ocs1")
	if err != nil || len(users) != 200 {
		t.Fatalf("listing: %d users, %v", len(users), err)
	}
	if zipped, _ := gzipFrames(rec.last()); zipped != 1 {
		t.Fatalf("listing: %d gzip frames, want 1", zipped)
	}
}

// Skype for Business exports are ZIP archives already: they stay plain frames.
func TestEmulatorSfBExportsStayPlain(t *testing.T) {
	e := startEnv(t, ocs.ProductSkypeForBusiness, 20, 5, false)
	a, rec := recordingAgent(t, e, ocs.ProductSkypeForBusiness)
	if _, err := a.ExportContacts(testCtx(t), "ocs1", nil); err != nil {
		t.Fatal(err)
	}
	if zipped, plain := gzipFrames(rec.last()); zipped != 0 || plain != 1 || !bytes.Contains(rec.last(), []byte(ocs.FrameMarkers[1])) {
		t.Fatalf("SfB export: %d gzip and %d plain frames, want one plain frame", zipped, plain)
	}
}
