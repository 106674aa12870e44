package winrm_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// agentOver returns the admin agent of product on e's two servers, logged on with auth.
func agentOver(t *testing.T, e *sim.Emulator, product ocs.Product, auth string) ocs.Agent {
	t.Helper()
	pool := winrm.NewPool(winrm.Options{MaxConcurrent: 2, Backoff: 10 * time.Millisecond})
	t.Cleanup(pool.Close)
	var targets []winrm.Target
	var servers []ocs.Server
	for _, name := range []string{"ocs1", "ocs2"} {
		targets = append(targets, winrm.Target{Server: name, Endpoint: e.Endpoint(name), Auth: auth,
			Username: `CORP\` + sim.DefaultUsername, Password: sim.DefaultPassword, CACert: e.CACertPEM()})
		servers = append(servers, ocs.Server{Name: name, FQDN: name + ".corp.example.com"})
	}
	if err := pool.SetTargets(targets); err != nil {
		t.Fatal(err)
	}
	agent, err := ocs.NewAgent(product, servers, pool)
	if err != nil {
		t.Fatal(err)
	}
	return agent
}

func startDoubleHop(t *testing.T, tls bool, product ocs.Product) *sim.Emulator {
	t.Helper()
	e, err := sim.Start(context.Background(), sim.Config{Product: string(product), Servers: []string{"ocs1", "ocs2"}, Users: 6, ContactsPerUser: 3,
		Admin: "127.0.0.1:0", TLS: tls, RequireEncryption: true, NetBIOSDomain: "CORP", DoubleHop: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// TestAgentOverCredSSPMakesTheSecondHop: with the double hop enforced, the agent lists and moves
// users over CredSSP, over HTTPS and encrypted over plain HTTP, in both dialects.
func TestAgentOverCredSSPMakesTheSecondHop(t *testing.T) {
	for _, tls := range []bool{true, false} {
		for _, product := range []ocs.Product{ocs.ProductOCS2007R2, ocs.ProductSkypeForBusiness} {
			t.Run(fmt.Sprintf("tls=%v/%s", tls, product), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				e := startDoubleHop(t, tls, product)
				agent := agentOver(t, e, product, winrm.AuthCredSSP)
				homed, err := agent.ListHomedUsers(ctx, "ocs1", "ocs1")
				if err != nil || len(homed) != 3 {
					t.Fatalf("ListHomedUsers: %+v, %v", homed, err)
				}
				moved, err := agent.MoveUsers(ctx, "ocs1", []string{homed[0].SIP}, "ocs2", false)
				if err != nil || len(moved) != 1 || !moved[0].OK {
					t.Fatalf("MoveUsers: %+v, %v", moved, err)
				}
				doc, err := agent.ExportContacts(ctx, "ocs2", []string{homed[0].SIP})
				if err != nil || len(doc.Resources) != 1 || len(doc.Resources[0].Contacts) != 3 {
					t.Fatalf("ExportContacts after a planned move: %+v, %v", doc, err)
				}
			})
		}
	}
}

// TestAgentOverNTLMCannotMakeTheSecondHop: the same server over NTLM answers for its services and
// local database, but every directory command is refused by name, and nobody moves.
func TestAgentOverNTLMCannotMakeTheSecondHop(t *testing.T) {
	for _, product := range []ocs.Product{ocs.ProductOCS2007R2, ocs.ProductSkypeForBusiness} {
		t.Run(string(product), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			e := startDoubleHop(t, true, product)
			agent := agentOver(t, e, product, winrm.AuthNTLM)
			if health, err := agent.ServiceHealth(ctx, "ocs1", []string{"RtcSrv"}); err != nil || !health[0].Running {
				t.Fatalf("ServiceHealth: %+v, %v", health, err)
			}
			if _, err := agent.ListUsers(ctx, "ocs1"); !errors.Is(err, ocs.ErrDirectoryAccessDenied) {
				t.Fatalf("ListUsers: %v, want ErrDirectoryAccessDenied", err)
			}
			const sip = "sip:user0001@corp.example.com"
			moved, err := agent.MoveUsers(ctx, "ocs1", []string{sip}, "ocs2", false)
			if err != nil || len(moved) != 1 || moved[0].OK || !ocs.DirectoryDenied(moved[0].Message) {
				t.Fatalf("MoveUsers: %+v, %v", moved, err)
			}
			for _, u := range e.World().Users() {
				if u.SIP == sip && u.Home != "ocs1" {
					t.Fatalf("%s moved to %s", sip, u.Home)
				}
			}
			if doc, err := agent.ExportContacts(ctx, "ocs1", []string{sip}); err != nil || len(doc.Resources) != 1 {
				t.Fatalf("ExportContacts (local database, no second hop): %+v, %v", doc, err)
			}
		})
	}
}
