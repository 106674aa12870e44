package ocs_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

// TestEmulatorExportsFewUsersOneByOne checks that an export of a few users exports those users
// alone (dbimpexp /user:, Export-CsUserData -UserFilter) and gives what the whole-server export
// holds for them; a user homed elsewhere is absent, as from the whole export.
func TestEmulatorExportsFewUsersOneByOne(t *testing.T) {
	for _, product := range products {
		t.Run(string(product), func(t *testing.T) {
			e := startEnv(t, product, 12, 3, false)
			ctx := testCtx(t)
			homed := e.homedOn("ocs1")
			elsewhere := e.homedOn("ocs2")[0]
			ask := []string{homed[2], elsewhere, homed[0]}
			whole, err := e.agent.ExportContacts(ctx, "ocs1", nil)
			if err != nil {
				t.Fatal(err)
			}
			byUser := map[string]contacts.Resource{}
			for _, r := range whole.Resources {
				byUser[strings.ToLower(r.UserAtHost)] = r
			}
			few, err := e.agent.ExportContacts(ctx, "ocs1", ask)
			if err != nil {
				t.Fatal(err)
			}
			want := &contacts.Document{Resources: []contacts.Resource{
				byUser[strings.TrimPrefix(homed[2], "sip:")], byUser[strings.TrimPrefix(homed[0], "sip:")]}}
			if !reflect.DeepEqual(few, want) {
				t.Errorf("per-user export %+v, want %+v", few, want)
			}
			single := "/user:$u"
			if product != "OCS2007R2" {
				single = "-UserFilter $u"
			}
			if n := e.commands(single); n != 1 {
				t.Errorf("%d commands exported users one by one, want 1", n)
			}
		})
	}
}
