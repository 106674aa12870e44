package ocs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// syntheticExport is an Executor whose every command prints one frame holding a dbimpexp export
// of users users (UTF-16LE, as dbimpexp writes it), generated as it is written: the test's own
// side holds no export either. It streams when the context asks for it, as winrm.Pool does.
type syntheticExport struct {
	users   int
	corrupt bool // announce one byte more than is sent
}

func (s syntheticExport) Run(ctx context.Context, _, _ string, _ []byte) (Result, error) {
	out := winrm.StdoutOf(ctx)
	var held strings.Builder
	if out == nil {
		out = &held
	}
	if err := s.write(out); err != nil {
		return Result{}, err
	}
	return Result{Stdout: []byte(held.String())}, nil
}

func (s syntheticExport) write(out io.Writer) error {
	if _, err := io.WriteString(out, "dbimpexp says hello\r\n"+frameBegin+"\r\n"); err != nil {
		return err
	}
	lines := &lineWrapper{w: out}
	enc := base64.NewEncoder(base64.StdEncoding, lines)
	n := 0
	put := func(text string) {
		b := utf16le(text)
		n += len(b)
		_, _ = enc.Write(b)
	}
	put("\ufeff<?xml version=\"1.0\" encoding=\"utf-16\"?>\r\n<HomedResources xmlns=\"" + contacts.Namespace + "\">\r\n")
	for i := range s.users {
		put(fmt.Sprintf(`<HomedResource UserAtHost="user%06d@corp.example.com"><Contacts>`, i))
		for c := range 10 {
			put(fmt.Sprintf(`<Contact Buddy="sip:buddy%d@corp.example.com" DisplayName="Buddy %d" SubscribePresence="1" Groups="1" />`, c, c))
		}
		put("</Contacts></HomedResource>\r\n")
	}
	put("</HomedResources>\r\n")
	_ = enc.Close()
	if s.corrupt {
		n++
	}
	_, err := io.WriteString(out, "\r\n"+frameEnd+" "+strconv.Itoa(n)+"\r\n")
	return err
}

// lineWrapper breaks base64 into lines of 76 characters, as InsertLineBreaks does.
type lineWrapper struct {
	w   io.Writer
	col int
}

func (l *lineWrapper) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(76-l.col, len(p))
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		l.col += k
		p = p[k:]
		if l.col == 76 {
			if _, err := io.WriteString(l.w, "\r\n"); err != nil {
				return 0, err
			}
			l.col = 0
		}
	}
	return n, nil
}

func utf16le(s string) []byte {
	b := make([]byte, 0, 2*len(s))
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

func streamAgent(t *testing.T, exec Executor) Agent {
	t.Helper()
	a, err := NewAgent(ProductOCS2007R2, testServers, exec)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestStreamContactsStreamedAndHeldAgree(t *testing.T) {
	for _, streaming := range []bool{true, false} {
		var exec Executor = syntheticExport{users: 50}
		if !streaming {
			exec = heldOnly{exec}
		}
		var got []string
		err := StreamContacts(context.Background(), streamAgent(t, exec), "ocs1", nil, func(r contacts.Resource) error {
			if r.Count() != 10 {
				t.Errorf("%s: %d contacts, want 10", r.UserAtHost, r.Count())
			}
			got = append(got, r.UserAtHost)
			return nil
		})
		if err != nil || len(got) != 50 || got[49] != "user000049@corp.example.com" {
			t.Fatalf("streaming %v: %d users (last %v), err %v", streaming, len(got), got[len(got)-1:], err)
		}
	}
}

// heldOnly hides the stream from an executor, as an executor that collects the output does.
type heldOnly struct{ Executor }

func (h heldOnly) Run(ctx context.Context, server, command string, stdin []byte) (Result, error) {
	return h.Executor.Run(winrm.WithStdout(ctx, nil), server, command, stdin)
}

func TestStreamContactsFailsOnAShortFrame(t *testing.T) {
	n := 0
	err := StreamContacts(context.Background(), streamAgent(t, syntheticExport{users: 20, corrupt: true}), "ocs1", nil,
		func(contacts.Resource) error { n++; return nil })
	if !errors.Is(err, ErrBadOutput) {
		t.Fatalf("err = %v after %d users, want ErrBadOutput", err, n)
	}
}

func TestStreamContactsStopsAtTheCallersError(t *testing.T) {
	stop := errors.New("store full")
	n := 0
	err := StreamContacts(context.Background(), streamAgent(t, syntheticExport{users: 500}), "ocs1", nil,
		func(contacts.Resource) error {
			if n++; n == 3 {
				return stop
			}
			return nil
		})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("err = %v after %d users, want the caller's error after 3", err, n)
	}
}

// The heap in use while the last user of an export is handed on does not grow with the export:
// nothing holds the base64 text, the XML or the parsed document.
func TestStreamContactsMemoryDoesNotGrowWithUsers(t *testing.T) {
	live := func(users int) uint64 {
		var peak uint64
		err := StreamContacts(context.Background(), streamAgent(t, syntheticExport{users: users}), "ocs1", nil,
			func(r contacts.Resource) error {
				if r.UserAtHost == fmt.Sprintf("user%06d@corp.example.com", users-1) {
					runtime.GC()
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					peak = ms.HeapAlloc
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		return peak
	}
	small, large := live(500), live(20000) // about 0.2 and 8 MiB of base64 text
	t.Logf("heap in use at the last user: %d KiB for 500 users, %d KiB for 20000", small>>10, large>>10)
	if large > small+2<<20 {
		t.Fatalf("heap at the last user grew from %d KiB (500 users) to %d KiB (20000 users)", small>>10, large>>10)
	}
}

// Through a real WinRM pool and the emulator: the streamed export is the collected one.
func TestStreamContactsThroughWinRM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	e, err := sim.Start(ctx, sim.Config{Servers: []string{"ocs1", "ocs2"}, Users: 400, ContactsPerUser: 15, Admin: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a := emulatorAgent(t, e, ProductOCS2007R2)
	doc, err := a.ExportContacts(ctx, "ocs1", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, r := range doc.Resources {
		want[r.UserAtHost] = string(contacts.MarshalResource(r))
	}
	got := 0
	err = StreamContacts(ctx, a, "ocs1", nil, func(r contacts.Resource) error {
		if want[r.UserAtHost] != string(contacts.MarshalResource(r)) {
			t.Errorf("%s differs between the streamed and the collected export", r.UserAtHost)
		}
		got++
		return nil
	})
	if err != nil || got != len(want) || got == 0 {
		t.Fatalf("streamed %d users (collected %d), err %v", got, len(want), err)
	}
}
