package harness

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// Binaries are the paths of the binaries a suite runs.
type Binaries struct {
	Manager string
	Sim     string
}

// Build builds the manager (the module's main package) and the emulator (hack/ocs-sim) of the
// repository at repo into dir.
func Build(repo, dir string) (Binaries, error) {
	bins := Binaries{Manager: filepath.Join(dir, "manager"), Sim: filepath.Join(dir, "ocs-sim")}
	for out, pkg := range map[string]string{bins.Manager: ".", bins.Sim: "./hack/ocs-sim"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = repo
		if b, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("building %s: %w\n%s", pkg, err, b)
		}
	}
	return bins, nil
}
