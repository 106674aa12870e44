package winrm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// TestAgentOverNTLM runs the admin agent's operations over NTLM against emulated OCS hosts that
// offer only NTLM and refuse unencrypted bodies: over HTTPS, and sealed over plain HTTP.
func TestAgentOverNTLM(t *testing.T) {
	for _, tls := range []bool{true, false} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			e, err := sim.Start(ctx, sim.Config{Servers: []string{"ocs1", "ocs2"}, Users: 6, ContactsPerUser: 3,
				Admin: "127.0.0.1:0", TLS: tls, Auth: []string{"ntlm"}, RequireEncryption: true, NetBIOSDomain: "CORP"})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			pool := winrm.NewPool(winrm.Options{MaxConcurrent: 2, Backoff: 10 * time.Millisecond})
			defer pool.Close()
			var targets []winrm.Target
			var servers []ocs.Server
			for _, name := range []string{"ocs1", "ocs2"} {
				targets = append(targets, winrm.Target{Server: name, Endpoint: e.Endpoint(name), Auth: winrm.AuthNTLM,
					Username: `CORP\` + sim.DefaultUsername, Password: sim.DefaultPassword, CACert: e.CACertPEM()})
				servers = append(servers, ocs.Server{Name: name, FQDN: name + ".corp.example.com"})
			}
			if err := pool.SetTargets(targets); err != nil {
				t.Fatal(err)
			}
			agent, err := ocs.NewAgent(ocs.ProductOCS2007R2, servers, pool)
			if err != nil {
				t.Fatal(err)
			}

			health, err := agent.ServiceHealth(ctx, "ocs1", []string{"RtcSrv"})
			if err != nil || len(health) != 1 || !health[0].Running {
				t.Fatalf("ServiceHealth: %+v, %v", health, err)
			}
			homed, err := agent.ListHomedUsers(ctx, "ocs1", "ocs1")
			if err != nil || len(homed) != 3 {
				t.Fatalf("ListHomedUsers: %+v, %v", homed, err)
			}
			sip := homed[0].SIP
			moved, err := agent.MoveUsers(ctx, "ocs1", []string{sip}, "ocs2", false)
			if err != nil || len(moved) != 1 || !moved[0].OK {
				t.Fatalf("MoveUsers: %+v, %v", moved, err)
			}
			doc, err := agent.ExportContacts(ctx, "ocs2", []string{sip})
			if err != nil || len(doc.Resources) != 1 || len(doc.Resources[0].Contacts) != 3 {
				t.Fatalf("ExportContacts after a planned move: %+v, %v", doc, err)
			}
		})
	}
}
