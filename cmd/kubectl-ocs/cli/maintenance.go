package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// Refusals of maintenance, for callers and tests to tell apart.
var (
	errUnknownServer = errors.New("unknown server")
	errLastServing   = errors.New("last server out of maintenance")
)

func newMaintenanceCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "maintenance on|off <pool> <server>",
		Short: "Drain a server for maintenance (on) or return it to service (off)",
		Long: "maintenance on sets spec.servers[].maintenance of the server: its users move to the other servers with\n" +
			"their contacts, and the server reports Drained. maintenance off returns it: the users move back.\n" +
			"The last server out of maintenance is refused: its users would have nowhere to go. Under GitOps,\n" +
			"commit the change instead, or Git will undo it.",
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			var on bool
			switch args[0] {
			case "on":
				on = true
			case "off":
			default:
				return fmt.Errorf("maintenance takes on or off, not %q", args[0])
			}
			return o.maintenance(cmd.Context(), args[1], args[2], on)
		},
	}
}

// maintenanceDecision is the outcome of decideMaintenance: a JSON patch, or nothing to do.
type maintenanceDecision struct {
	// patch is nil when the server is already as asked.
	patch []byte
	// warning is said before acting (e.g. the servers taking the users are not all Healthy).
	warning string
}

// decideMaintenance is the pure part of maintenance: it finds the server by name and builds a JSON
// patch that tests the name at that index first, so a list reordered in the meantime fails the
// patch instead of putting another server in maintenance.
func decideMaintenance(pool *ocsv1.OCSPool, server string, on bool) (maintenanceDecision, error) {
	idx, names := -1, make([]string, 0, len(pool.Spec.Servers))
	serving := []string{}
	for i, s := range pool.Spec.Servers {
		names = append(names, s.Name)
		if s.Name == server {
			idx = i
		} else if !s.Maintenance {
			serving = append(serving, s.Name)
		}
	}
	if idx < 0 {
		return maintenanceDecision{}, fmt.Errorf("%w %q: OCSPool %s has %s", errUnknownServer, server, pool.Name, strings.Join(names, ", "))
	}
	if pool.Spec.Servers[idx].Maintenance == on {
		return maintenanceDecision{}, nil
	}
	var d maintenanceDecision
	if on {
		if len(serving) == 0 {
			return maintenanceDecision{}, fmt.Errorf("refusing maintenance on for %s, the %w of OCSPool %s: its users would have nowhere to go; take another server out of maintenance first",
				server, errLastServing, pool.Name)
		}
		if notHealthy := unhealthyOf(pool, serving); len(notHealthy) > 0 {
			d.warning = fmt.Sprintf("Warning: %s not Healthy; %s's users move only to serving servers.", strings.Join(notHealthy, ", "), server)
		}
	}
	path := fmt.Sprintf("/spec/servers/%d", idx)
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": path + "/name", "value": server},
		{"op": "add", "path": path + "/maintenance", "value": on},
	})
	if err != nil {
		return maintenanceDecision{}, fmt.Errorf("encoding the maintenance patch: %w", err)
	}
	d.patch = patch
	return d, nil
}

// unhealthyOf lists which of names the pool does not report Healthy.
func unhealthyOf(pool *ocsv1.OCSPool, names []string) []string {
	state := map[string]ocsv1.ServerState{}
	for _, s := range pool.Status.Servers {
		state[s.Name] = s.State
	}
	var out []string
	for _, n := range names {
		if state[n] != ocsv1.ServerHealthy {
			out = append(out, n)
		}
	}
	return out
}

func (o *options) maintenance(ctx context.Context, poolName, server string, on bool) error {
	res := o.dyn.Resource(poolGVR).Namespace(o.namespace)
	u, err := res.Get(ctx, poolName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading OCSPool %s/%s: %w", o.namespace, poolName, err)
	}
	var pool ocsv1.OCSPool
	if err := fromUnstructured(u, &pool); err != nil {
		return err
	}
	d, err := decideMaintenance(&pool, server, on)
	if err != nil {
		return err
	}
	if d.warning != "" {
		fmt.Fprintln(o.streams.ErrOut, d.warning)
	}
	if d.patch != nil {
		if u, err = res.Patch(ctx, poolName, types.JSONPatchType, d.patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("setting spec.servers[%s].maintenance of OCSPool %s/%s: %w", server, o.namespace, poolName, err)
		}
	}
	if o.output != outputTable {
		return o.printObject(u)
	}
	switch {
	case d.patch == nil:
		fmt.Fprintf(o.streams.Out, "OCSPool %s: server %s maintenance is already %s.\n", poolName, server, onOff(on))
	case on:
		fmt.Fprintf(o.streams.Out, "OCSPool %s: server %s maintenance on; its users move away (watch: kubectl ocs status %s).\n", poolName, server, poolName)
	default:
		fmt.Fprintf(o.streams.Out, "OCSPool %s: server %s maintenance off; its users move back (watch: kubectl ocs status %s).\n", poolName, server, poolName)
	}
	return nil
}
