package controllers

import (
	"context"
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

func TestDescribePassErrorIsStable(t *testing.T) {
	// Two attempts that fail the same way with other ports and durations.
	attempt := func(port int, d string) error {
		return fmt.Errorf("listing the users of OCSPool ns/pool: ListUsers on ocs1: %w",
			&winrm.Error{Server: "ocs1", Kind: winrm.ErrUnreachable, Detail: fmt.Sprintf("dial tcp 10.0.0.1:%d: connect: connection refused after %s", port, d)})
	}
	tests := map[string]struct {
		err  error
		want string
	}{
		"an unreachable server, named": {attempt(5986, "1s"), "WinRM on ocs1 did not answer."},
		"the same at the next attempt": {attempt(40123, "2.3s"), "WinRM on ocs1 did not answer."},
		"a timeout":                    {fmt.Errorf("x: %w", &winrm.Error{Server: "ocs2", Kind: winrm.ErrTimeout}), "a WinRM command on ocs2 hit its timeout."},
		"a deadline without a server":  {fmt.Errorf("x: %w", context.DeadlineExceeded), "a WinRM command hit its timeout."},
		"a stopping manager":           {fmt.Errorf("x: %w", context.Canceled), "the manager is stopping."},
		"a conflict":                   {apierrors.NewConflict(schema.GroupResource{Resource: "userhomings"}, "homing", errors.New("rv 12")), "the UserHoming changed during the pass."},
		"anything else":                {errors.New("open /data/x: permission denied"), "an unexpected error; the manager's log has it."},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := describePassError(tt.err); got != tt.want {
				t.Errorf("describePassError() = %q, want %q", got, tt.want)
			}
		})
	}
}
