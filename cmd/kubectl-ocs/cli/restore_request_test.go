package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func TestValidateRestoreRequest(t *testing.T) {
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("sip:user%04d@corp.example.com", i)
	}
	tests := map[string]struct {
		req     restoreRequest
		wantErr string
	}{
		"two users":                      {req: restoreRequest{users: []string{"sip:alice@corp.example.com", "sip:bob@corp.example.com"}}},
		"a server and a named snapshot":  {req: restoreRequest{server: "ocs1", snapshot: "20260301T114500Z-a1"}},
		"the pool from the newest":       {req: restoreRequest{all: true, snapshot: "latest"}},
		"no target is refused":           {req: restoreRequest{from: "site-a"}, wantErr: "exactly one of --user sip:… (repeatable), --server <name> or --all"},
		"two targets are refused":        {req: restoreRequest{users: []string{"sip:alice@corp.example.com"}, all: true}, wantErr: "exactly one of"},
		"a user without sip: gets a fix": {req: restoreRequest{users: []string{"alice@corp.example.com"}}, wantErr: `--user "alice@corp.example.com" is not a SIP URI: did you mean sip:alice@corp.example.com?`},
		"a user with two @ is refused":   {req: restoreRequest{users: []string{"sip:alice@bob@corp"}}, wantErr: "is not a SIP URI such as sip:alice@corp.example.com"},
		"a user with a space is refused": {req: restoreRequest{users: []string{"sip:al ice@corp"}}, wantErr: "is not a SIP URI"},
		"a user named twice is refused":  {req: restoreRequest{users: []string{"sip:a@c", "sip:a@c"}}, wantErr: "--user sip:a@c is named twice"},
		"101 users are refused":          {req: restoreRequest{users: many}, wantErr: "101 users named, at most 100"},
		"a long user is refused":         {req: restoreRequest{users: []string{"sip:" + strings.Repeat("a", 250) + "@corp"}}, wantErr: "longer than 256 characters"},
		"a path as snapshot is refused":  {req: restoreRequest{all: true, snapshot: "../etc"}, wantErr: `--snapshot "../etc" is not a snapshot name`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			err := validateRestoreRequest(tc.req)
			if tc.wantErr == "" {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			g.Expect(err).To(MatchError(ContainSubstring(tc.wantErr)))
			g.Expect(errors.Is(err, errBadRestore)).To(BeTrue())
		})
	}
}

func TestRestoreManifest(t *testing.T) {
	target := restoreTarget{pool: "site-a", servers: []string{"ocs1", "ocs2"}, backup: "site-a-contacts"}
	tests := map[string]struct {
		req      restoreRequest
		wantSpec map[string]any
	}{
		"users from the newest snapshot, dry run": {
			req: restoreRequest{users: []string{"sip:alice@corp.example.com"}, snapshot: "latest", dryRun: true},
			wantSpec: map[string]any{"backupRef": map[string]any{"name": "site-a-contacts"},
				"users": []any{"sip:alice@corp.example.com"}, "dryRun": true},
		},
		"a server from a named snapshot": {
			req:      restoreRequest{server: "ocs1", snapshot: "snap-1"},
			wantSpec: map[string]any{"backupRef": map[string]any{"name": "site-a-contacts"}, "server": "ocs1", "snapshot": "snap-1"},
		},
		"the pool": {
			req:      restoreRequest{all: true},
			wantSpec: map[string]any{"backupRef": map[string]any{"name": "site-a-contacts"}, "pool": true},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			u := restoreManifest("ns", tc.req, target)
			g.Expect(u.Object["spec"]).To(Equal(tc.wantSpec))
			g.Expect(u.GetKind()).To(Equal("ContactRestore"))
			g.Expect(u.GetAPIVersion()).To(Equal("ocs.ocsha.io/v1alpha1"))
			g.Expect(u.GetGenerateName()).To(Equal("site-a-restore-"))
			g.Expect(u.GetName()).To(BeEmpty())
		})
	}
	g := NewWithT(t)
	g.Expect(checkRestoreTarget(restoreRequest{server: "ocs9"}, target)).To(MatchError(ContainSubstring("--server ocs9 is not a server of OCSPool site-a (it has ocs1, ocs2)")))
	g.Expect(checkRestoreTarget(restoreRequest{server: "ocs9"}, restoreTarget{pool: "gone"})).To(Succeed(), "a pool not read is left to the controller")
}

// The plugin's checks of spec.users and spec.snapshot are the CRD's.
func TestRestorePatternsMatchTheCRD(t *testing.T) {
	g := NewWithT(t)
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "crd", "bases", "ocs.ocsha.io_contactrestores.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	crd := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(yaml.Unmarshal(data, crd)).To(Succeed())
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	users := spec.Properties["users"]
	g.Expect(users.Items.Schema.Pattern).To(Equal(restoreUserPattern.String()))
	g.Expect(*users.Items.Schema.MaxLength).To(BeEquivalentTo(maxRestoreUserLength))
	g.Expect(*users.MaxItems).To(BeEquivalentTo(100))
	snap := spec.Properties["snapshot"]
	g.Expect(snap.Pattern).To(Equal(restoreSnapshotPattern.String()))
	g.Expect(*snap.MaxLength).To(BeEquivalentTo(maxRestoreSnapshotLength))
	g.Expect(*spec.Properties["server"].MaxLength).To(BeEquivalentTo(63))
}
