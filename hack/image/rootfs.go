package main

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image's layout. The Dockerfile produces the same one (a test compares them).
const (
	// binaryPath is where the manager lives; it is also the entrypoint.
	binaryPath = "/manager"
	// caBundlePath is the first file Go's crypto/x509 reads on Linux, and where OpenSSL-based
	// tools look on Debian-like systems.
	caBundlePath = "/etc/ssl/certs/ca-certificates.crt"
	// nonRootUser runs the manager: distroless' "nonroot", so PodSecurity restricted and
	// runAsNonRoot hold with any runAsUser left unset.
	nonRootUser = "65532:65532"
)

// caBundleModule is the Go module the CA bundle comes from.
const caBundleModule = "golang.org/x/crypto/x509roots/fallback"

// rootFile is one file of the base layer.
type rootFile struct {
	path string
	mode int64
	data []byte
}

// baseFiles are the files of the base layer: the CA bundle and the user database, nothing
// else (no shell, no package manager).
//
// The CA bundle is the NSS (Mozilla) root store as the pinned Go module
// golang.org/x/crypto/x509roots/fallback ships it, not the build host's
// /etc/ssl/certs/ca-certificates.crt: its version is in go.mod and its bytes in go.sum, so every
// machine builds the same bundle, a build needs nothing but Go, and an update is a reviewed
// go.mod change that govulncheck and dependency bots watch. Roots that NSS trusts only for
// certificates issued before a date are left out: a PEM file cannot carry that constraint.
func baseFiles() ([]rootFile, error) {
	ca, err := caBundlePEM()
	if err != nil {
		return nil, err
	}
	return []rootFile{
		{path: "/etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{path: "/etc/passwd", mode: 0o644, data: []byte(
			"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{path: caBundlePath, mode: 0o644, data: ca},
	}, nil
}

// caBundlePEM encodes the unconstrained roots of the bundle as PEM, preceded by a comment
// naming the module version it came from.
func caBundlePEM() ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# NSS root certificates from %s %s\n", caBundleModule, moduleVersion(caBundleModule))
	n := 0
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, fmt.Errorf("encoding a root certificate: %w", err)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds no unconstrained root", caBundleModule)
	}
	return buf.Bytes(), nil
}

// moduleVersion is the version of a dependency linked into this program, from its build info.
func moduleVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "(unknown version)"
}

// layerTar writes files as a tar, with their parent directories, in path order, owned by root
// and dated mtime, so that the same files always give the same layer digest.
func layerTar(files []rootFile, mtime time.Time) ([]byte, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		name := strings.TrimPrefix(f.path, "/")
		for _, dir := range parentDirs(name) {
			if dirs[dir] {
				continue
			}
			dirs[dir] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
				return nil, err
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// parentDirs lists the directories above name, outermost first ("a/b/c" → "a", "a/b").
func parentDirs(name string) []string {
	var out []string
	for i := range len(name) {
		if name[i] == '/' {
			out = append(out, name[:i])
		}
	}
	return out
}

// writeRootfs writes the base files below dir, for the Dockerfile to COPY into scratch.
func writeRootfs(dir string) error {
	files, err := baseFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, os.FileMode(f.mode)); err != nil {
			return err
		}
	}
	return nil
}
