package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/x509"
	"debug/elf"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const (
	testVersion  = "v9.9.9-test"
	testRevision = "0123456789abcdef"
)

var (
	managerOnce sync.Once
	managerPath string
	managerErr  error
)

// testManager builds the manager once per test run, static and stamped, as make image does.
func testManager(t *testing.T) string {
	t.Helper()
	managerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "image-test-")
		if err != nil {
			managerErr = err
			return
		}
		managerPath = filepath.Join(dir, "manager")
		pkg := "github.com/ocsha/ocs-ha-operator/internal/version"
		cmd := exec.Command("go", "build", "-trimpath",
			"-ldflags", "-s -w -X "+pkg+".Version="+testVersion+" -X "+pkg+".Revision="+testRevision,
			"-o", managerPath, "github.com/ocsha/ocs-ha-operator")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		if out, err := cmd.CombinedOutput(); err != nil {
			managerErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if managerErr != nil {
		t.Fatal(managerErr)
	}
	return managerPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if managerPath != "" {
		os.RemoveAll(filepath.Dir(managerPath))
	}
	os.Exit(code)
}

var testCreated = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// buildTestImage runs the command as make image does and returns its output directory.
func buildTestImage(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	err := run([]string{
		"--binary", "linux/" + runtime.GOARCH + "=" + testManager(t),
		"--out", out, "--ref", "example.com/ocs-ha-operator:" + testVersion,
		"--version", testVersion, "--revision", testRevision,
		"--source-date-epoch", "1795600800", // testCreated
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// layoutImage reads the single image of the OCI layout in dir.
func layoutImage(t *testing.T, dir string) (v1.ImageIndex, v1.Image) {
	t.Helper()
	root, err := layout.ImageIndexFromPath(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	rm, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Manifests) != 1 || rm.Manifests[0].Annotations[annotationRefName] != testVersion {
		t.Fatalf("the layout's index names %v, want one index tagged %s", rm.Manifests, testVersion)
	}
	idx, err := root.ImageIndex(rm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Platform == nil || im.Manifests[0].Platform.Architecture != runtime.GOARCH {
		t.Fatalf("index manifests %+v, want one for linux/%s", im.Manifests, runtime.GOARCH)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return idx, img
}

// layerFiles lists a layer's entries: path → header, and the content of regular files.
func layerFiles(t *testing.T, l v1.Layer) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	headers, data := map[string]*tar.Header{}, map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := "/" + strings.TrimSuffix(h.Name, "/")
		headers[p] = h
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			data[p] = b
		}
	}
	return headers, data
}

func TestImageConfig(t *testing.T) {
	_, img := layoutImage(t, buildTestImage(t))
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", cf.Config.User)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/manager"}) || len(cf.Config.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want [/manager] and no cmd", cf.Config.Entrypoint, cf.Config.Cmd)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if !cf.Created.Time.Equal(testCreated) {
		t.Errorf("created %v, want the source date %v", cf.Created.Time, testCreated)
	}
	want := map[string]string{
		labelTitle: "ocs-ha-operator", labelVersion: testVersion, labelRevision: testRevision,
		labelLicenses: "Apache-2.0", labelSource: projectURL, labelCreated: "2026-11-25T10:00:00Z",
	}
	for k, v := range want {
		if cf.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
		}
	}
	for k := range cf.Config.Labels {
		if !strings.HasPrefix(k, "org.opencontainers.image.") {
			t.Errorf("label %s is not an OCI label", k)
		}
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(m.Annotations, cf.Config.Labels) {
		t.Errorf("manifest annotations %v differ from the labels %v", m.Annotations, cf.Config.Labels)
	}
}

func TestImageLayers(t *testing.T) {
	_, img := layoutImage(t, buildTestImage(t))
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Fatalf("%d layers, want 2 (base files, binary)", len(layers))
	}
	base, baseData := layerFiles(t, layers[0])
	bin, binData := layerFiles(t, layers[1])

	if len(bin) != 1 || bin["/manager"] == nil {
		t.Fatalf("the binary layer holds %v, want /manager alone", slices.Sorted(maps.Keys(bin)))
	}
	h := bin["/manager"]
	if h.Mode != 0o755 || h.Uid != 0 || h.Gid != 0 {
		t.Errorf("/manager mode %o owner %d:%d, want 755 root:root", h.Mode, h.Uid, h.Gid)
	}
	manager, err := os.ReadFile(testManager(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(binData["/manager"], manager) {
		t.Error("/manager differs from the binary built")
	}

	wantBase := []string{"/etc", "/etc/group", "/etc/passwd", "/etc/ssl", "/etc/ssl/certs", caBundlePath}
	if got := slices.Sorted(maps.Keys(base)); !slices.Equal(got, wantBase) {
		t.Errorf("base layer %v, want %v (no shell, nothing else)", got, wantBase)
	}
	if !strings.Contains(string(baseData["/etc/passwd"]), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd lacks the nonroot user: %q", baseData["/etc/passwd"])
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(baseData[caBundlePath]) {
		t.Fatal("the CA bundle holds no certificate")
	}
	if n := strings.Count(string(baseData[caBundlePath]), "BEGIN CERTIFICATE"); n < 100 {
		t.Errorf("the CA bundle holds %d certificates, want the NSS store (over 100)", n)
	}
}

// TestImageManagerRuns extracts the binary from the image, checks it is static (no ELF
// interpreter, no shared library) and runs it with --help.
func TestImageManagerRuns(t *testing.T) {
	_, img := layoutImage(t, buildTestImage(t))
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	_, data := layerFiles(t, layers[len(layers)-1])
	path := filepath.Join(t.TempDir(), "manager")
	if err := os.WriteFile(path, data["/manager"], 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the manager has an ELF interpreter: it is not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the manager links %v: it is not static", libs)
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary runs on Linux only")
	}
	out, err := exec.Command(path, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("manager --help: %v\n%s", err, out)
	}
	for _, flag := range []string{"-metrics-bind-address", "-health-probe-bind-address", "-leader-elect"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("manager --help does not mention %s:\n%s", flag, out)
		}
	}
}

// TestImageTarball: the single-platform tarball holds the same image config as the layout.
func TestImageTarball(t *testing.T) {
	dir := buildTestImage(t)
	_, img := layoutImage(t, dir)
	tb, err := tarball.ImageFromPath(filepath.Join(dir, "image.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	got, err := tb.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("image.tar config %s, layout config %s", got, want)
	}
}

// TestImageIsReproducible: the same binary and source date give the same digest.
func TestImageIsReproducible(t *testing.T) {
	a, _ := layoutImage(t, buildTestImage(t))
	b, _ := layoutImage(t, buildTestImage(t))
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds: %s and %s", da, db)
	}
}

// TestDockerfileSameLayout reads the Dockerfile's final stage: it must start from scratch, copy
// the files --rootfs writes to / and the manager to /manager, and set the same user, entrypoint
// and label keys as the builder.
func TestDockerfileSameLayout(t *testing.T) {
	stage := finalStage(t, "../../Dockerfile")
	if stage[0] != "FROM scratch" {
		t.Errorf("final stage %q, want FROM scratch (no base image)", stage[0])
	}
	want := []string{
		"COPY --from=builder /out/rootfs/ /",
		"COPY --from=builder /out/manager " + binaryPath,
		"USER " + nonRootUser,
		`ENTRYPOINT ["` + binaryPath + `"]`,
	}
	for _, w := range want {
		if !slices.Contains(stage, w) {
			t.Errorf("the Dockerfile's final stage lacks %q", w)
		}
	}
	labelKey := regexp.MustCompile(`(org\.opencontainers\.image\.[a-z]+)=`)
	var keys []string
	for _, line := range stage {
		if strings.HasPrefix(line, "LABEL ") {
			for _, m := range labelKey.FindAllStringSubmatch(line, -1) {
				keys = append(keys, m[1])
			}
		}
	}
	spec := imageSpec{}
	if got, want := slices.Sorted(slices.Values(keys)), slices.Sorted(maps.Keys(spec.labels())); !slices.Equal(got, want) {
		t.Errorf("Dockerfile labels %v, builder labels %v", got, want)
	}

	// --rootfs writes exactly the base layer's files.
	dir := t.TempDir()
	if err := run([]string{"--rootfs", dir}); err != nil {
		t.Fatal(err)
	}
	files, err := baseFiles()
	if err != nil {
		t.Fatal(err)
	}
	var written []string
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			written = append(written, "/"+filepath.ToSlash(strings.TrimPrefix(p, dir+string(filepath.Separator))))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var want2 []string
	for _, f := range files {
		want2 = append(want2, f.path)
	}
	if !slices.Equal(slices.Sorted(slices.Values(written)), slices.Sorted(slices.Values(want2))) {
		t.Errorf("--rootfs wrote %v, the base layer holds %v", written, want2)
	}
}

// finalStage returns the instructions of the Dockerfile's last stage, continuation lines joined.
func finalStage(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		lines = append(lines, strings.Join(strings.Fields(cur.String()), " "))
		cur.Reset()
	}
	last := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			last = i
		}
	}
	return lines[last:]
}

func TestParentDirs(t *testing.T) {
	if got := parentDirs("etc/ssl/certs/x.crt"); !slices.Equal(got, []string{"etc", "etc/ssl", "etc/ssl/certs"}) {
		t.Errorf("parentDirs = %v", got)
	}
	if got := parentDirs("manager"); len(got) != 0 {
		t.Errorf("parentDirs(manager) = %v", got)
	}
}

func TestBinaryFlag(t *testing.T) {
	b := binaryFlags{}
	if err := b.Set("linux/arm64=bin/arm64/manager"); err != nil || b["linux/arm64"] != "bin/arm64/manager" {
		t.Errorf("Set: %v %v", err, b)
	}
	for _, bad := range []string{"bin/manager", "=x", "linux/amd64="} {
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}
