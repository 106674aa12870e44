// Command kubectl-ocs is the kubectl plugin of ocs-ha-operator: `kubectl ocs status site-a`.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocsha/ocs-ha-operator/cmd/kubectl-ocs/cli"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := cli.NewRootCommand(streams).Execute(); err != nil {
		// cobra has printed the error; kubectl plugins report failure by exit code.
		os.Exit(1)
	}
}
