package harness

import (
	"bytes"
	"context"
	"os/exec"
	"time"
)

// kubectlTimeout bounds one kubectl call (a kubectl wait included).
const kubectlTimeout = 3 * time.Minute

// Kubectl runs kubectl against the cluster of kubeconfig and returns its standard output, or
// its output and error streams with the error.
func Kubectl(kubeconfig string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}
