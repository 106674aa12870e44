package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// krewPlugin is the part of krew's Plugin (krew.googlecontainertools.github.com/v1alpha2) that
// krew-index's validation requires.
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Caveats          string `json:"caveats"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			SHA256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

var platforms = []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64"}

// writeArchives writes an archive per platform as make release-plugin does (the binary and
// LICENSE) and returns each one's sha256.
func writeArchives(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	for _, p := range platforms {
		bin := "kubectl-ocs"
		if strings.HasPrefix(p, "windows") {
			bin += ".exe"
		}
		name := "kubectl-ocs_" + p + ".tar.gz"
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(f)
		tw := tar.NewWriter(zw)
		for file, body := range map[string]string{bin: "binary of " + p, "LICENSE": "Apache-2.0"} {
			if err := tw.WriteHeader(&tar.Header{Name: file, Mode: 0o755, Size: int64(len(body))}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write([]byte(body)); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []interface{ Close() error }{tw, zw, f} {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		sums[name] = hex.EncodeToString(sum[:])
	}
	return sums
}

func renderRelease(t *testing.T, dir, version string) []byte {
	t.Helper()
	o := options{template: filepath.Join("..", "..", "plugins", "ocs.yaml"), version: version,
		releaseURL: "https://downloads.example.com/ocs/" + version + "/", archives: dir, out: filepath.Join(dir, "ocs.yaml")}
	if err := o.run(); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(o.out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRenderedManifestHasKrewsShape(t *testing.T) {
	dir := t.TempDir()
	sums := writeArchives(t, dir)
	out := renderRelease(t, dir, "v1.4.2")
	var p krewPlugin
	if err := yaml.UnmarshalStrict(out, &p); err != nil {
		t.Fatalf("the manifest is not a krew Plugin: %v\n%s", err, out)
	}
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" || p.Metadata.Name != "ocs" {
		t.Errorf("apiVersion/kind/name = %s/%s/%s", p.APIVersion, p.Kind, p.Metadata.Name)
	}
	if p.Spec.Version != "v1.4.2" || p.Spec.ShortDescription == "" || len(p.Spec.ShortDescription) > 50 || p.Spec.Homepage == "" {
		t.Errorf("version %q, shortDescription %q (krew-index asks for a short line), homepage %q", p.Spec.Version, p.Spec.ShortDescription, p.Spec.Homepage)
	}
	if len(p.Spec.Platforms) != len(platforms) {
		t.Fatalf("%d platforms, want %d", len(p.Spec.Platforms), len(platforms))
	}
	hexSum := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, pl := range p.Spec.Platforms {
		os, arch := pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]
		name := "kubectl-ocs_" + os + "_" + arch + ".tar.gz"
		if pl.URI != "https://downloads.example.com/ocs/v1.4.2/"+name {
			t.Errorf("%s/%s: uri %s", os, arch, pl.URI)
		}
		if !hexSum.MatchString(pl.SHA256) || pl.SHA256 != sums[name] {
			t.Errorf("%s/%s: sha256 %s, the archive's is %s", os, arch, pl.SHA256, sums[name])
		}
		wantBin := "kubectl-ocs"
		if os == "windows" {
			wantBin += ".exe"
		}
		if pl.Bin != wantBin {
			t.Errorf("%s/%s: bin %s, want %s", os, arch, pl.Bin, wantBin)
		}
	}
	if strings.Contains(string(out), "{{") || strings.HasPrefix(string(out), "#") {
		t.Errorf("template text left in the manifest:\n%s", out)
	}
}

func TestRenderRefusesAMissingArchive(t *testing.T) {
	dir := t.TempDir()
	writeArchives(t, dir)
	if err := os.Remove(filepath.Join(dir, "kubectl-ocs_darwin_arm64.tar.gz")); err != nil {
		t.Fatal(err)
	}
	o := options{template: filepath.Join("..", "..", "plugins", "ocs.yaml"), version: "v1.4.2", archives: dir, out: filepath.Join(dir, "ocs.yaml")}
	if err := o.run(); err == nil || !strings.Contains(err.Error(), "kubectl-ocs_darwin_arm64.tar.gz") {
		t.Fatalf("err = %v, want one naming the missing archive", err)
	}
}

// hack/release-check-krew.sh (run by make release) accepts the rendered manifest and refuses a
// wrong version and a changed archive.
func TestReleaseCheckKrew(t *testing.T) {
	check := func(dir, version string) (string, error) {
		out, err := exec.Command("bash", filepath.Join("..", "release-check-krew.sh"), version, dir).CombinedOutput()
		return string(out), err
	}
	dir := t.TempDir()
	writeArchives(t, dir)
	renderRelease(t, dir, "v1.4.2")
	if out, err := check(dir, "v1.4.2"); err != nil {
		t.Fatalf("the check refused a good release: %v\n%s", err, out)
	}
	if out, err := check(dir, "v1.4.3"); err == nil || !strings.Contains(out, "spec.version is not v1.4.3") {
		t.Errorf("wrong version: %v %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "kubectl-ocs_linux_arm64.tar.gz"), []byte("rebuilt"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := check(dir, "v1.4.2"); err == nil || !strings.Contains(out, "sha256 of kubectl-ocs_linux_arm64.tar.gz") {
		t.Errorf("changed archive: %v %s", err, out)
	}
}
