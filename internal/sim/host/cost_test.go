package host

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// costLog records the costs a world spends, in order, without waiting.
type costLog struct {
	mu    sync.Mutex
	spent []string
}

func (l *costLog) spend(_ context.Context, kind string, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.spent = append(l.spent, kind+" "+d.String())
	return nil
}

func (l *costLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.spent
	l.spent = nil
	return out
}

func costWorld(t *testing.T, product Product, log *costLog) *World {
	t.Helper()
	w, err := NewWorld(Config{
		Product: product, Profile: Profile{ConsoleWidth: -1},
		Servers: []ServerConfig{{Name: "ocs1"}, {Name: "ocs2"}}, Users: 6, ContactsPerUser: 2, Seed: 7,
		Costs: Costs{Process: time.Second, Module: 5 * time.Second, Export: time.Millisecond, Spend: log.spend},
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestCostsFallWhereWindowsSpendsThem(t *testing.T) {
	log := &costLog{}
	sfb := costWorld(t, ProductSkypeForBusiness, log)
	ocs := costWorld(t, ProductOCS2007R2, log)
	file := winfs.TempDir + `\x.xml`
	tests := []struct {
		name string
		run  func() result
		want []string
	}{
		{"each program start pays the process cost", func() result { return runProg(t, ocs, "ocs1", "sc", []string{"query", "RtcSrv"}, "") },
			[]string{"process 1s"}},
		{"a powershell process loads the module once, however often it imports it", func() result {
			return runPS(t, sfb, "ocs1", "Import-Module SkypeForBusiness\nImport-Module SkypeForBusiness\n$u = Get-CsUser", "")
		}, []string{"process 1s", "module 5s"}},
		{"the first Cs cmdlet autoloads the module", func() result {
			return runPS(t, sfb, "ocs1", "$u = Get-CsUser\n$u = Get-CsUser", "")
		}, []string{"process 1s", "module 5s"}},
		{"a script without Cs cmdlets loads no module", func() result { return runPS(t, sfb, "ocs1", "'x'", "") },
			[]string{"process 1s"}},
		{"Export-CsUserData pays per user exported", func() result {
			return runPS(t, sfb, "ocs1", "Export-CsUserData -PoolFqdn 'ocs1.corp.example.com' -FileName 'C:\\x.zip'", "")
		}, []string{"process 1s", "module 5s", "export 3ms"}},
		{"Export-CsUserData -UserFilter pays for the one user", func() result {
			return runPS(t, sfb, "ocs1", "Export-CsUserData -PoolFqdn 'ocs1.corp.example.com' -UserFilter 'sip:user0001@corp.example.com' -FileName 'C:\\x.zip'", "")
		}, []string{"process 1s", "module 5s", "export 1ms"}},
		{"a dbimpexp export pays per user exported", func() result {
			return runProg(t, ocs, "ocs1", "dbimpexp", []string{"/hrxmlfile:" + file, "/restype:user"}, "")
		}, []string{"process 1s", "export 3ms"}},
		{"a single-user dbimpexp export pays for one user", func() result {
			return runProg(t, ocs, "ocs1", "dbimpexp", []string{"/hrxmlfile:" + file, "/restype:user", "/user:user0001@corp.example.com"}, "")
		}, []string{"process 1s", "export 1ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log.take()
			if r := tt.run(); r.code != 0 {
				t.Fatalf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
			if got := log.take(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("spent %q, want %q", got, tt.want)
			}
		})
	}
}

func TestZeroCostsSpendNothing(t *testing.T) {
	log := &costLog{}
	w, err := NewWorld(Config{Product: ProductSkypeForBusiness, Servers: []ServerConfig{{Name: "ocs1"}}, Users: 2,
		Costs: Costs{Spend: log.spend}})
	if err != nil {
		t.Fatal(err)
	}
	if r := runPS(t, w, "ocs1", "Import-Module SkypeForBusiness\n$u = Get-CsUser", ""); r.code != 0 {
		t.Fatalf("code %d stderr %q", r.code, r.stderr)
	}
	if got := log.take(); len(got) != 0 {
		t.Errorf("spent %q with zero costs", got)
	}
}

func TestProcessCostEndsWithTheCommand(t *testing.T) {
	w, err := NewWorld(Config{Servers: []ServerConfig{{Name: "ocs1"}}, Costs: Costs{Process: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := runProgCtx(ctx, t, w, "ocs1", "sc", []string{"query", "RtcSrv"}, ""); r.code == 0 || r.stdout != "" {
		t.Errorf("a cancelled start ran the program: code %d stdout %q", r.code, r.stdout)
	}
}
