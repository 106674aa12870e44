package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	fakeclient "sigs.k8s.io/controller-runtime/pkg/client/fake"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

func TestEncodesForImport(t *testing.T) {
	good := contacts.Resource{
		UserAtHost: "user0001@corp.example.com",
		Groups:     []contacts.Group{{Number: 1, DisplayName: "RnJpZW5kcw=="}},
		Contacts:   cbContacts(1, 3, 0),
		Containers: []contacts.Container{{Number: contacts.ContainerFriendsAndFamily, Members: []string{"user0002@corp.example.com"}}},
	}
	tests := map[string]struct {
		key     string
		data    []byte
		wantErr string
	}{
		"a list as the backup stores it": {key: "sip:user0001@corp.example.com", data: contacts.MarshalResource(good)},
		"bytes that are no contact list": {key: "sip:user0001@corp.example.com", data: []byte("<Other/>"), wantErr: "does not decode"},
		"truncated XML":                  {key: "sip:user0001@corp.example.com", data: contacts.MarshalResource(good)[:40], wantErr: "does not decode"},
		"another user's list":            {key: "sip:user0009@corp.example.com", data: contacts.MarshalResource(good), wantErr: "holds the list of sip:user0001@corp.example.com"},
		"a SIP address the import refuses": {
			key:     "sip:bad user@corp.example.com",
			data:    contacts.MarshalResource(contacts.Resource{UserAtHost: "bad user@corp.example.com"}),
			wantErr: "would be refused by the import",
		},
	}
	for name, tt := range tests {
		for _, product := range []ocsv1.Product{ocsv1.ProductOCS2007R2, ocsv1.ProductSkypeForBusiness} {
			t.Run(name+"/"+string(product), func(t *testing.T) {
				err := encodesForImport(product, tt.key, tt.data)
				if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
					t.Errorf("encodesForImport() = %v, want %q", err, tt.wantErr)
				}
			})
		}
	}
}

func TestDrillTarget(t *testing.T) {
	b := cbUnitBackup("/b")
	older := &backup.Manifest{Name: "20261201T000000Z-aaaaaaaa"}
	newer := &backup.Manifest{Name: "20261202T000000Z-bbbbbbbb"}
	corruptNewest := backup.SkippedSnapshot{Name: "20261203T000000Z-cccccccc", Err: fmt.Errorf("%w: manifest", backup.ErrCorrupt)}
	corruptOldest := backup.SkippedSnapshot{Name: "20261130T000000Z-dddddddd", Err: fmt.Errorf("%w: manifest", backup.ErrCorrupt)}
	unreachable := backup.SkippedSnapshot{Name: "20261203T000000Z-cccccccc", Err: fmt.Errorf("%w: timeout", backup.ErrUnavailable)}
	tests := map[string]struct {
		ms     []*backup.Manifest
		bad    []backup.SkippedSnapshot
		want   *backup.Manifest
		reason string
	}{
		"the newest readable snapshot":                   {ms: []*backup.Manifest{newer, older}, want: newer},
		"an older unreadable manifest does not matter":   {ms: []*backup.Manifest{newer, older}, bad: []backup.SkippedSnapshot{corruptOldest}, want: newer},
		"an unreadable newest manifest is the finding":   {ms: []*backup.Manifest{newer}, bad: []backup.SkippedSnapshot{corruptNewest}, reason: ocsv1.ReasonSnapshotUnreadable},
		"a store error on the newest is no finding":      {ms: []*backup.Manifest{newer}, bad: []backup.SkippedSnapshot{unreachable}, reason: ocsv1.ReasonStorageUnavailable},
		"nothing to verify":                              {reason: ocsv1.ReasonNoSnapshot},
		"only unreadable manifests: the newest is named": {bad: []backup.SkippedSnapshot{corruptNewest, corruptOldest}, reason: ocsv1.ReasonSnapshotUnreadable},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			m, o, done := drillTarget(b, tt.ms, tt.bad)
			if tt.want != nil {
				if done || m != tt.want {
					t.Fatalf("drillTarget() = %v, %+v; want %s", m, o, tt.want.Name)
				}
				return
			}
			if !done || o.Reason != tt.reason {
				t.Fatalf("drillTarget() = %+v, want done with %s", o, tt.reason)
			}
			if tt.reason == ocsv1.ReasonSnapshotUnreadable && (o.Status != metav1.ConditionFalse || !strings.Contains(o.Message, corruptNewest.Name)) {
				t.Errorf("outcome %+v does not fail naming %s", o, corruptNewest.Name)
			}
		})
	}
}

func TestDrillFailure(t *testing.T) {
	rep := &backup.VerifyReport{Snapshot: "s1", Corrupt: 5, Documents: 2, Problems: []backup.Problem{
		{Kind: backup.ProblemCorrupt, User: "sip:a@x", What: "contacts", Err: errors.New("blob 1 has digest 2")},
		{Kind: backup.ProblemCorrupt, User: "sip:b@x", What: "contacts", Err: errors.New("missing")},
		{Kind: backup.ProblemCorrupt, What: "user table", Err: errors.New("x")},
		{Kind: backup.ProblemCorrupt, User: "sip:c@x", What: "contacts", Err: errors.New("y")},
		{Kind: backup.ProblemDocument, User: "sip:d@x", What: "contacts", Err: errors.New("does not decode")},
	}}
	o := drillFailure(rep)
	if o.Status != metav1.ConditionFalse || o.Reason != ocsv1.ReasonBlobCorrupt {
		t.Fatalf("drillFailure() = %+v, want False BlobCorrupt", o)
	}
	for _, want := range []string{"5 damaged object(s)", "contacts of sip:a@x: blob 1 has digest 2", "user table", "2 contact list(s) that would not import"} {
		if !strings.Contains(o.Message, want) {
			t.Errorf("message %q lacks %q", o.Message, want)
		}
	}
	if strings.Contains(o.Message, "sip:c@x") {
		t.Errorf("message names more than %d examples: %q", verifyExamples, o.Message)
	}
	docs := drillFailure(&backup.VerifyReport{Snapshot: "s1", Documents: 1, Problems: rep.Problems[4:]})
	if docs.Reason != ocsv1.ReasonDocumentNotEncodable || !strings.Contains(docs.Message, "contacts of sip:d@x: does not decode") {
		t.Errorf("drillFailure() = %+v, want DocumentNotEncodable naming sip:d@x", docs)
	}
}

func TestMissingAfterMerge(t *testing.T) {
	want := contacts.Resource{
		UserAtHost: "canary@corp.example.com",
		Groups:     []contacts.Group{{Number: 1, DisplayName: "QQ=="}},
		Contacts:   []contacts.Contact{{Buddy: "a@corp.example.com", Groups: []int{1}}, {Buddy: "b@corp.example.com", SubscribePresence: true}},
		Containers: []contacts.Container{{Number: 100, Members: []string{"a@corp.example.com"}}},
	}
	merged := want
	merged.Contacts = append([]contacts.Contact{{Buddy: "new@corp.example.com"}}, want.Contacts...)
	tests := map[string]struct {
		got  contacts.Resource
		want []string
	}{
		"the same list":                    {got: want},
		"a merge that added newer entries": {got: merged},
		"buddies compare without case":     {got: contacts.Resource{Groups: want.Groups, Containers: want.Containers, Contacts: []contacts.Contact{{Buddy: "A@corp.example.com", Groups: []int{1}}, {Buddy: "b@corp.example.com", SubscribePresence: true}}}},
		"an empty list":                    {got: contacts.Resource{}, want: []string{"group 1", "contact a@corp.example.com", "contact b@corp.example.com", "access entry a@corp.example.com in container 100"}},
		"a contact that lost its group":    {got: contacts.Resource{Groups: want.Groups, Containers: want.Containers, Contacts: []contacts.Contact{{Buddy: "a@corp.example.com"}, want.Contacts[1]}}, want: []string{"contact a@corp.example.com"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := missingAfterMerge(want, tt.got); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("missingAfterMerge() = %v, want %v", got, tt.want)
			}
		})
	}
}

// verifyFixture backs up a fake pool into a directory and returns what a drill needs.
func verifyFixture(t *testing.T) (*ContactBackupReconciler, *ocs.Fake, *ocsv1.ContactBackup, *ocsv1.OCSPool, string) {
	t.Helper()
	dir := t.TempDir()
	fake := cbFake(5, 3, "ocs1", "ocs2")
	b := cbUnitBackup(dir)
	pool := cbUnitPool(map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy}, "ocs1", "ocs2")
	r := cbReconciler(fake)
	if out := r.runBackup(context.Background(), b, pool, cbTime(10, 15, 0)); out.Err != nil {
		t.Fatal(out.Err)
	}
	return r, fake, b, pool, dir
}

// blobOf returns the file of a user's document in the newest snapshot.
func blobOf(t *testing.T, b *ocsv1.ContactBackup, dir, sip string) string {
	t.Helper()
	repo, err := openRepository(context.Background(), nil, b)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := repo.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e, err := repo.Entry(context.Background(), ms[0], snapshotKey(sip))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, b.Namespace, b.Name, "blobs", e.Digest[:2], e.Digest)
}

func TestRunVerify(t *testing.T) {
	ctx := context.Background()
	t.Run("an intact snapshot verifies", func(t *testing.T) {
		r, _, b, pool, _ := verifyFixture(t)
		o := r.runVerify(ctx, b, pool)
		if o.Status != metav1.ConditionTrue || o.Reason != ocsv1.ReasonSnapshotVerified || !strings.Contains(o.Message, "10 users") {
			t.Fatalf("runVerify() = %+v", o)
		}
	})
	t.Run("a corrupted blob is found with its user", func(t *testing.T) {
		r, _, b, pool, dir := verifyFixture(t)
		path := blobOf(t, b, dir, cbSIP(3))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x20
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		o := r.runVerify(ctx, b, pool)
		if o.Status != metav1.ConditionFalse || o.Reason != ocsv1.ReasonBlobCorrupt || !strings.Contains(o.Message, cbSIP(3)) {
			t.Fatalf("runVerify() = %+v, want False BlobCorrupt naming %s", o, cbSIP(3))
		}
	})
	t.Run("a document that no longer encodes is found apart from damage", func(t *testing.T) {
		r, _, b, pool, _ := verifyFixture(t)
		// A later snapshot whose bytes match their digest but are no homed resource: what a bug
		// in an exporter or an older format would leave.
		repo, err := openRepository(ctx, nil, b)
		if err != nil {
			t.Fatal(err)
		}
		users := map[string]backup.UserData{snapshotKey(cbSIP(4)): {Server: "ocs1", Data: []byte("<Contacts>not a homed resource</Contacts>")}}
		if _, err := repo.Write(ctx, "site-a/pool", cbTime(11, 0, 0), users, nil, nil); err != nil {
			t.Fatal(err)
		}
		o := r.runVerify(ctx, b, pool)
		if o.Status != metav1.ConditionFalse || o.Reason != ocsv1.ReasonDocumentNotEncodable ||
			!strings.Contains(o.Message, cbSIP(4)) || !strings.Contains(o.Message, "does not decode") {
			t.Fatalf("runVerify() = %+v, want False DocumentNotEncodable naming %s", o, cbSIP(4))
		}
	})
	t.Run("an unreachable store is no finding", func(t *testing.T) {
		r, _, b, pool, _ := verifyFixture(t)
		b.Spec.Storage = ocsv1.StorageSpec{S3: &ocsv1.S3StorageSpec{Endpoint: "http://127.0.0.1:1", Bucket: "b", CredentialsSecretRef: ocsv1.LocalObjectReference{Name: "s3"}}}
		r.Client = newSecretClient(t, "s3", map[string]string{ocsv1.S3AccessKeyIDKey: "id", ocsv1.S3SecretAccessKeyKey: "secret"})
		r.Secrets = r.Client
		o := r.runVerify(ctx, b, pool)
		if o.Status != metav1.ConditionUnknown || o.Reason != ocsv1.ReasonStorageUnavailable || !strings.Contains(o.Message, "connection refused") {
			t.Fatalf("runVerify() = %+v, want Unknown StorageUnavailable", o)
		}
	})
}

func TestRunVerifyRoundTrip(t *testing.T) {
	ctx := context.Background()
	canary := cbSIP(7) // homed on ocs2
	tests := map[string]struct {
		canary  string
		prepare func(f *ocs.Fake, pool *ocsv1.OCSPool)
		status  metav1.ConditionStatus
		message string
	}{
		"the canary's list is imported and read back": {
			canary:  canary,
			prepare: func(f *ocs.Fake, _ *ocsv1.OCSPool) { f.AddUser(canary, "ocs2") }, // its list emptied since
			status:  metav1.ConditionTrue, message: "imported into ocs2 and read back intact",
		},
		"a canary absent from the snapshot fails the drill": {
			canary: "sip:nobody@corp.example.com",
			status: metav1.ConditionFalse, message: "the canary is not in the snapshot",
		},
		"an import the server refuses fails the drill": {
			canary:  canary,
			prepare: func(f *ocs.Fake, _ *ocsv1.OCSPool) { f.FailUser(canary, "the user's database is read-only") },
			status:  metav1.ConditionFalse, message: "read-only",
		},
		"a canary homed on a server that is down skips the round trip": {
			canary: canary,
			prepare: func(_ *ocs.Fake, pool *ocsv1.OCSPool) {
				pool.Status.Servers[1].State = ocsv1.ServerUnreachable
			},
			status: metav1.ConditionTrue, message: "the canary's home ocs2 does not serve",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r, fake, b, pool, _ := verifyFixture(t)
			b.Spec.Verify = ocsv1.VerifySpec{RoundTrip: true, Canary: tt.canary}
			if tt.prepare != nil {
				tt.prepare(fake, pool)
			}
			o := r.runVerify(ctx, b, pool)
			if o.Status != tt.status || !strings.Contains(o.Message, tt.message) {
				t.Fatalf("runVerify() = %+v, want %s with %q", o, tt.status, tt.message)
			}
			if tt.status == metav1.ConditionFalse && o.Reason != ocsv1.ReasonRoundTripFailed {
				t.Errorf("reason %s, want %s", o.Reason, ocsv1.ReasonRoundTripFailed)
			}
			if tt.status == metav1.ConditionTrue && strings.Contains(tt.message, "intact") {
				got, _ := fake.StoredContacts("ocs2", canary)
				if got.Count() != 3 {
					t.Errorf("the canary holds %d contacts after the round trip, want the snapshot's 3", got.Count())
				}
			}
		})
	}
}

// newSecretClient returns a fake client holding one Secret in namespace site-a.
func newSecretClient(t *testing.T, name string, data map[string]string) client.Client {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "site-a"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return fakeclient.NewClientBuilder().WithObjects(s).Build()
}
