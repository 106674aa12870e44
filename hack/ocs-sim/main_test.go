package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the test and run to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunPrintsReadyAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	cert := filepath.Join(t.TempDir(), "ca.pem")
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--base-port", "0", "--admin", "127.0.0.1:0", "--users", "10", "--contacts-per-user", "3",
			"--tls", "--cert-out", cert}, &out, io.Discard)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for out.String() == "" {
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no ready line")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if out.String() != "ocs-sim ready\n" {
		t.Errorf("stdout %q", out.String())
	}
	if pem, err := os.ReadFile(cert); err != nil || !strings.Contains(string(pem), "BEGIN CERTIFICATE") {
		t.Errorf("CA not written: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"--nope"}, io.Discard, io.Discard); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestParseFlagsAuthentication(t *testing.T) {
	tests := map[string]struct {
		args              []string
		wantAuth          []string
		wantDomain        string
		wantRequireSealed bool
		wantDoubleHop     bool
	}{
		"defaults: every scheme, CORP, unencrypted allowed, the double hop enforced": {
			wantAuth: []string{"basic", "ntlm", "credssp"}, wantDomain: "CORP", wantDoubleHop: true,
		},
		"Windows' defaults": {
			args:     []string{"--auth", "ntlm", "--domain", "LAB", "--allow-unencrypted=false"},
			wantAuth: []string{"ntlm"}, wantDomain: "LAB", wantRequireSealed: true, wantDoubleHop: true,
		},
		"spaces in the list": {
			args:     []string{"--auth", " basic , ntlm ", "--double-hop=off"},
			wantAuth: []string{"basic", "ntlm"}, wantDomain: "CORP",
		},
		"CredSSP only": {
			args:     []string{"--auth", "credssp", "--double-hop", "on"},
			wantAuth: []string{"credssp"}, wantDomain: "CORP", wantDoubleHop: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := parseFlags(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(cfg.Auth, ",") != strings.Join(tc.wantAuth, ",") || cfg.NetBIOSDomain != tc.wantDomain ||
				cfg.RequireEncryption != tc.wantRequireSealed || cfg.DoubleHop != tc.wantDoubleHop {
				t.Fatalf("auth %q, domain %q, require encryption %v, double hop %v", cfg.Auth, cfg.NetBIOSDomain,
					cfg.RequireEncryption, cfg.DoubleHop)
			}
		})
	}
}

func TestParseFlagsRejectsABadDoubleHop(t *testing.T) {
	if _, err := parseFlags([]string{"--double-hop", "sometimes"}, io.Discard); err == nil {
		t.Fatal("--double-hop=sometimes accepted")
	}
}

func TestRunRejectsAnUnknownAuthScheme(t *testing.T) {
	for _, auth := range []string{"kerberos", ","} {
		err := run(context.Background(), []string{"--auth", auth, "--base-port", "0", "--admin", "127.0.0.1:0"}, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("--auth %q accepted", auth)
		}
	}
}

func TestParseFlagsServerSoftware(t *testing.T) {
	cfg, err := parseFlags([]string{"--product", "SkypeForBusiness", "--console-width", "0", "--powershell-version", "2.0,ocs2=1.0",
		"--missing-tools", "ocs1=dbimpexp,lcscmd", "--missing-module", "ocs2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Product != "SkypeForBusiness" || cfg.Profile.ConsoleWidth != -1 || cfg.Profile.PowerShell != "2.0" ||
		len(cfg.Profile.MissingTools) != 1 || cfg.Profile.MissingTools[0] != "lcscmd" || cfg.Profile.MissingModule {
		t.Fatalf("site profile %+v", cfg.Profile)
	}
	if p := cfg.ServerProfiles["ocs2"]; p.PowerShell != "1.0" || !p.MissingModule {
		t.Fatalf("ocs2 profile %+v", p)
	}
	if p := cfg.ServerProfiles["ocs1"]; len(p.MissingTools) != 1 || p.MissingTools[0] != "dbimpexp" {
		t.Fatalf("ocs1 profile %+v", p)
	}
	defaults, err := parseFlags(nil, io.Discard)
	if err != nil || defaults.Profile.ConsoleWidth != 0 || defaults.Product != "OCS2007R2" {
		t.Fatalf("defaults %+v, %v", defaults.Profile, err)
	}
	if _, err := parseFlags([]string{"--console-width", "-5"}, io.Discard); err == nil {
		t.Fatal("a negative width was accepted")
	}
}

func TestParseFlagsCostModel(t *testing.T) {
	cfg, err := parseFlags([]string{"--process-cost", "250ms", "--module-cost", "3s", "--shell-cost", "80ms", "--export-cost", "2ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ProcessCost != 250*time.Millisecond || cfg.ModuleCost != 3*time.Second || cfg.ShellCost != 80*time.Millisecond || cfg.ExportCost != 2*time.Millisecond {
		t.Errorf("costs %v %v %v %v", cfg.ProcessCost, cfg.ModuleCost, cfg.ShellCost, cfg.ExportCost)
	}
	def, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if def.ProcessCost != 0 || def.ModuleCost != 0 || def.ShellCost != 0 || def.ExportCost != 0 {
		t.Error("a cost flag defaults to non-zero")
	}
}

func TestParseFlagsRoleServers(t *testing.T) {
	cfg, err := parseFlags([]string{"--mediation", "med1, med2", "--edge", "edge1,edge2", "--gateways", "2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Mediation, ",") != "med1,med2" || strings.Join(cfg.Edge, ",") != "edge1,edge2" || cfg.Gateways != 2 ||
		strings.Join(cfg.Servers, ",") != "ocs1,ocs2" {
		t.Errorf("config: servers %v, mediation %v, edge %v, gateways %d", cfg.Servers, cfg.Mediation, cfg.Edge, cfg.Gateways)
	}
	cfg, err = parseFlags(nil, io.Discard)
	if err != nil || cfg.Mediation != nil || cfg.Edge != nil {
		t.Errorf("defaults: %v %v %v", cfg.Mediation, cfg.Edge, err)
	}
}
