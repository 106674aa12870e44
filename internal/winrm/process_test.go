package winrm_test

import (
	"context"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

// A process answers each line while its stdin stays open, and closing the pool ends it.
func TestProcessStdinStaysOpen(t *testing.T) {
	e := startProto(t, false)
	p := poolFor(t, e, sim.DefaultPassword)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	release, err := p.Hold(ctx, "ocs1")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	pr, err := p.StartProcess(ctx, "ocs1", "echolines")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"first", "second"} {
		if err := pr.Send([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		got, err := pr.ReadLine(ctx)
		if err != nil || string(got) != line+"\r\n" {
			t.Fatalf("ReadLine: %q, %v; want %q", got, err, line)
		}
	}
	p.Close()
	select {
	case <-pr.Done():
	case <-ctx.Done():
		t.Fatal("the process outlived its pool")
	}
}
