// Command image builds the manager's OCI image without a container engine and without pulling a
// base image: an empty base, a layer with the CA bundle and the user database, a layer with the
// static manager binary, run as 65532:65532 with no shell. make image and make release call it;
// with --rootfs it only writes the base files, for the Dockerfile to copy into scratch.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// binaryFlags collects --binary platform=path.
type binaryFlags map[string]string

func (b binaryFlags) String() string { return fmt.Sprint(map[string]string(b)) }

func (b binaryFlags) Set(v string) error {
	platform, path, ok := strings.Cut(v, "=")
	if !ok || platform == "" || path == "" {
		return fmt.Errorf("want platform=path, e.g. linux/amd64=bin/linux_amd64/manager, got %q", v)
	}
	b[platform] = path
	return nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	binaries := binaryFlags{}
	fs.Var(binaries, "binary", "platform=path of a static manager binary; repeat for each platform")
	out := fs.String("out", "bin/image", "directory to write oci/ (OCI layout) and, for one platform, image.tar")
	ref := fs.String("ref", "ghcr.io/ocsha/ocs-ha-operator:dev", "image name and tag recorded in the outputs")
	version := fs.String("version", "dev", "release version, set as org.opencontainers.image.version")
	revision := fs.String("revision", "unknown", "source commit, set as org.opencontainers.image.revision")
	epoch := fs.String("source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "Unix time dating the image and its files (default 0); the commit time makes builds reproducible")
	rootfs := fs.String("rootfs", "", "only write the base files below this directory (for the Dockerfile) and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rootfs != "" {
		return writeRootfs(*rootfs)
	}
	if len(binaries) == 0 {
		return fmt.Errorf("no --binary given")
	}
	created := time.Unix(0, 0).UTC()
	if *epoch != "" {
		sec, err := strconv.ParseInt(*epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("--source-date-epoch %q: %w", *epoch, err)
		}
		created = time.Unix(sec, 0).UTC()
	}
	platforms := make([]string, 0, len(binaries))
	for p := range binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	spec := imageSpec{Binaries: binaries, Version: *version, Revision: *revision, Created: created}
	idx, images, err := buildIndex(spec, platforms)
	if err != nil {
		return err
	}
	if err := writeOutputs(*out, *ref, idx, images); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("image %s (%s) %s written to %s\n", *ref, strings.Join(platforms, ", "), digest, *out)
	return nil
}
