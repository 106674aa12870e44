package backup

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestSnapshotWriterDiscardsAFailedServer(t *testing.T) {
	ctx := context.Background()
	repo := NewRepository(newDirStore(t), "ns/cb")
	w, err := repo.NewSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, b := w.Stage("ocs1"), w.Stage("ocs2")
	must(t, a.Add("sip:a@x", []byte("A"), 1))
	must(t, b.Add("sip:b@x", []byte("B"), 2))
	must(t, b.Add("sip:a@x", []byte("A2"), 1)) // moved during the run: kept from ocs1
	if err := b.Add("sip:b@x", []byte("B"), 2); !errors.Is(err, ErrDuplicateUser) {
		t.Fatalf("second add of a user to one stage: %v, want ErrDuplicateUser", err)
	}
	c := w.Stage("ocs3")
	must(t, c.Add("sip:c@x", []byte("C"), 1))
	c.Discard() // its export failed part way
	m, dups, err := w.Commit("ns/pool", time.Unix(1000, 0), []ServerEntry{{Name: "ocs3", Skipped: true, Reason: "export failed"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Users != 2 || len(dups) != 1 || dups[0] != "sip:a@x" || m.Coverage != nil {
		t.Fatalf("users %d, dups %v, coverage %v; want 2 users, sip:a@x twice, a full snapshot", m.Users, dups, m.Coverage)
	}
	data, err := repo.ReadUser(ctx, m, "sip:a@x")
	if err != nil || string(data) != "A" {
		t.Fatalf("sip:a@x = %q, %v; want the first server's", data, err)
	}
	if _, err := repo.ReadUser(ctx, m, "sip:c@x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a discarded server's user: %v, want ErrNotFound", err)
	}
}

func TestSnapshotWriterCarriesUnexportedUsers(t *testing.T) {
	ctx := context.Background()
	repo := NewRepository(newDirStore(t), "ns/cb")
	users := map[string]UserData{}
	for i := range 50 {
		users[fmt.Sprintf("sip:u%02d@x", i)] = UserData{Server: "ocs1", Data: fmt.Appendf(nil, "v1 %d", i), Contacts: 1}
	}
	full, err := repo.Write(ctx, "ns/pool", time.Unix(1000, 0), users, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := repo.NewSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := w.Stage("ocs2")
	must(t, st.Add("sip:u01@x", []byte("v2 moved"), 3)) // moved to ocs2: exported again
	must(t, st.Add("sip:new@x", []byte("v2 new"), 1))   // added
	gone := "sip:u02@x"                                 // left the directory
	must(t, w.Carry(full, func(sip string, _ UserEntry) bool { return sip != gone }))
	m, dups, err := w.Commit("ns/pool", time.Unix(2000, 0), nil, nil)
	if err != nil || len(dups) != 0 {
		t.Fatalf("commit: %v, dups %v", err, dups)
	}
	if m.Users != 50 || m.Coverage == nil || m.Coverage.CarriedFrom != full.Name || len(m.Coverage.Exported) != 2 || m.Coverage.Carried != 48 {
		t.Fatalf("users %d, coverage %+v; want 50 users, 2 exported, 48 carried from %s", m.Users, m.Coverage, full.Name)
	}
	read, err := repo.List(ctx)
	if err != nil || len(read) != 2 || read[0].Coverage == nil || read[0].Coverage.Carried != 48 {
		t.Fatalf("the coverage does not survive a read back: %v, %+v", err, read)
	}
	for sip, want := range map[string]string{"sip:u01@x": "v2 moved", "sip:new@x": "v2 new", "sip:u03@x": "v1 3"} {
		if data, err := repo.ReadUser(ctx, m, sip); err != nil || string(data) != want {
			t.Fatalf("%s = %q, %v; want %q", sip, data, err, want)
		}
	}
	if _, err := repo.ReadUser(ctx, m, gone); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a user not carried: %v, want ErrNotFound", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newDirStore(t *testing.T) Store {
	t.Helper()
	s, err := NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
