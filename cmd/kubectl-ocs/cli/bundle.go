package cli

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// bundle receives the files of a support bundle: a directory, or a .tar.gz archive.
type bundle interface {
	add(name string, data []byte) error
	close() error
}

// openBundle writes a .tar.gz or .tgz archive at path, or else a directory there.
func openBundle(path string, modTime time.Time) (bundle, error) {
	if strings.HasSuffix(path, ".tar.gz") || strings.HasSuffix(path, ".tgz") {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("creating the bundle: %w", err)
		}
		gz := gzip.NewWriter(f)
		return &tarBundle{f: f, gz: gz, tw: tar.NewWriter(gz), root: strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".tgz"), ".tar.gz"), modTime: modTime}, nil
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("creating the bundle directory: %w", err)
	}
	return dirBundle(path), nil
}

type dirBundle string

func (d dirBundle) add(name string, data []byte) error {
	p := filepath.Join(string(d), filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func (d dirBundle) close() error { return nil }

type tarBundle struct {
	f       *os.File
	gz      *gzip.Writer
	tw      *tar.Writer
	root    string
	modTime time.Time
}

func (t *tarBundle) add(name string, data []byte) error {
	hdr := &tar.Header{Name: t.root + "/" + name, Mode: 0o600, Size: int64(len(data)), ModTime: t.modTime, Typeflag: tar.TypeReg}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if _, err := t.tw.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func (t *tarBundle) close() error {
	return errors.Join(t.tw.Close(), t.gz.Close(), t.f.Close())
}
