package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// The resources of the operator, addressed through the dynamic client so that fields added to the
// API after this plugin was built (a proposal, a restore kind) are read as they are.
var (
	poolGVR    = ocsv1.GroupVersion.WithResource("ocspools")
	homingGVR  = ocsv1.GroupVersion.WithResource("userhomings")
	backupGVR  = ocsv1.GroupVersion.WithResource("contactbackups")
	restoreGVR = ocsv1.GroupVersion.WithResource("contactrestores")
)

// Output formats of -o.
const (
	outputTable = ""
	outputJSON  = "json"
	outputYAML  = "yaml"
)

// options are the flags and clients every command shares.
type options struct {
	streams       genericiooptions.IOStreams
	configFlags   *genericclioptions.ConfigFlags
	output        string
	allNamespaces bool
	// now is the clock of ages and request stamps; tests fix it.
	now func() time.Time
	// poll is how often --wait re-reads an object.
	poll time.Duration

	dyn       dynamic.Interface
	kube      kubernetes.Interface
	namespace string
}

// NewRootCommand returns `kubectl ocs` with its subcommands.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return newRootCommand(&options{streams: streams, now: time.Now, poll: time.Second})
}

func newRootCommand(o *options) *cobra.Command {
	o.configFlags = genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:           "kubectl-ocs",
		Short:         "Operate OCS / Skype for Business pools kept by ocs-ha-operator",
		Long:          "kubectl ocs shows a pool's state in one screen and runs the day-2 actions of ocs-ha-operator:\nmaintenance, approvals, on-demand backups and restore drills, support bundles.",
		SilenceUsage:  true,
		SilenceErrors: false,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl ocs"},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// Shell completion scripts need no cluster.
			for c := cmd; c != nil; c = c.Parent() {
				if c.Name() == "completion" {
					return nil
				}
			}
			return o.complete()
		},
	}
	root.SetOut(o.streams.Out)
	root.SetErr(o.streams.ErrOut)
	o.configFlags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVarP(&o.output, "output", "o", outputTable, "Output format: json or yaml (a table when empty).")
	root.AddCommand(
		newStatusCommand(o),
		newMaintenanceCommand(o),
		newApproveCommand(o),
		newBackupCommand(o, requestBackup),
		newBackupCommand(o, requestVerify),
		newRestoreCommand(o),
		newReportCommand(o),
	)
	return root
}

// complete checks the shared flags and builds the clients from the kubeconfig flags.
func (o *options) complete() error {
	switch o.output {
	case outputTable, outputJSON, outputYAML:
	default:
		return fmt.Errorf("unknown output format %q: use json or yaml", o.output)
	}
	cfg, err := o.configFlags.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("reading the kubeconfig: %w", err)
	}
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
	}
	o.namespace = ns
	if o.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return fmt.Errorf("building the dynamic client: %w", err)
	}
	if o.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("building the client: %w", err)
	}
	return nil
}

// kindOf names a resource's kind for messages.
func kindOf(gvr schema.GroupVersionResource) string {
	switch gvr {
	case poolGVR:
		return "OCSPool"
	case homingGVR:
		return "UserHoming"
	case backupGVR:
		return "ContactBackup"
	case restoreGVR:
		return "ContactRestore"
	}
	return gvr.Resource
}
