package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The OCI label keys (https://github.com/opencontainers/image-spec/blob/main/annotations.md) set
// on the image config, and as annotations on the manifest and index.
const (
	labelTitle         = "org.opencontainers.image.title"
	labelDescription   = "org.opencontainers.image.description"
	labelVersion       = "org.opencontainers.image.version"
	labelRevision      = "org.opencontainers.image.revision"
	labelSource        = "org.opencontainers.image.source"
	labelURL           = "org.opencontainers.image.url"
	labelDocumentation = "org.opencontainers.image.documentation"
	labelLicenses      = "org.opencontainers.image.licenses"
	labelCreated       = "org.opencontainers.image.created"
	labelVendor        = "org.opencontainers.image.vendor"
	// annotationRefName names an image in an OCI layout's index.
	annotationRefName = "org.opencontainers.image.ref.name"
)

// projectURL is the project's home, its source and its documentation.
const projectURL = "https://github.com/ocsha/ocs-ha-operator"

// imageSpec says what to build.
type imageSpec struct {
	// Binaries maps a platform ("linux/amd64") to the static manager binary built for it.
	Binaries map[string]string
	Version  string
	Revision string
	// Created dates the image and every file in it: the commit time gives reproducible images.
	Created time.Time
}

// labels are the OCI labels of every image of spec.
func (s imageSpec) labels() map[string]string {
	return map[string]string{
		labelTitle:         "ocs-ha-operator",
		labelDescription:   "Keeps OCS 2007 R2 and Skype for Business Standard Edition servers highly available over WinRM.",
		labelVersion:       s.Version,
		labelRevision:      s.Revision,
		labelSource:        projectURL,
		labelURL:           projectURL,
		labelDocumentation: projectURL + "#install",
		labelLicenses:      "Apache-2.0",
		labelCreated:       s.Created.UTC().Format(time.RFC3339),
		labelVendor:        "ocsha",
	}
}

// buildImage builds the image of one platform on an empty base: a layer with the CA bundle and
// the user database, then a layer with the binary alone, so that a new build changes only the
// second layer.
func buildImage(s imageSpec, platform, binary string) (v1.Image, error) {
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		return nil, fmt.Errorf("platform %q: %w", platform, err)
	}
	files, err := baseFiles()
	if err != nil {
		return nil, err
	}
	base, err := tarLayer(files, s.Created)
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("reading the manager binary: %w", err)
	}
	bin, err := tarLayer([]rootFile{{path: binaryPath, mode: 0o755, data: data}}, s.Created)
	if err != nil {
		return nil, fmt.Errorf("binary layer: %w", err)
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, base, bin); err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Variant = p.Architecture, p.OS, p.Variant
	cf.Created = v1.Time{Time: s.Created.UTC()}
	cf.Author = "ocsha"
	cf.Config = v1.Config{
		User:       nonRootUser,
		Entrypoint: []string{binaryPath},
		WorkingDir: "/",
		Labels:     s.labels(),
	}
	cf.History = []v1.History{
		{Created: cf.Created, CreatedBy: "hack/image: CA bundle and user database", Comment: caBundleModule + " " + moduleVersion(caBundleModule)},
		{Created: cf.Created, CreatedBy: "hack/image: the manager binary"},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	return mutate.Annotations(img, s.labels()).(v1.Image), nil
}

// tarLayer makes an OCI gzip layer of files.
func tarLayer(files []rootFile, mtime time.Time) (v1.Layer, error) {
	data, err := layerTar(files, mtime)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// buildIndex builds one image per platform and an index over them, in platform order.
func buildIndex(s imageSpec, platforms []string) (v1.ImageIndex, map[string]v1.Image, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	images := map[string]v1.Image{}
	for _, platform := range platforms {
		img, err := buildImage(s, platform, s.Binaries[platform])
		if err != nil {
			return nil, nil, err
		}
		p, _ := v1.ParsePlatform(platform)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
		images[platform] = img
	}
	return mutate.Annotations(idx, s.labels()).(v1.ImageIndex), images, nil
}

// writeOutputs writes the OCI layout (dir/oci, the index named ref) and, for a single platform,
// a tarball that `docker load` and `kind load image-archive` read (dir/image.tar). An existing
// layout is replaced, not appended to.
func writeOutputs(dir, ref string, idx v1.ImageIndex, images map[string]v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	ociDir := filepath.Join(dir, "oci")
	if err := os.RemoveAll(ociDir); err != nil {
		return err
	}
	lp, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing the OCI layout: %w", err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{annotationRefName: tag.TagStr()})); err != nil {
		return fmt.Errorf("writing the OCI layout: %w", err)
	}
	tarPath := filepath.Join(dir, "image.tar")
	if err := os.RemoveAll(tarPath); err != nil {
		return err
	}
	if len(images) != 1 {
		return nil
	}
	for _, img := range images {
		if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
			return fmt.Errorf("writing %s: %w", tarPath, err)
		}
	}
	return nil
}
