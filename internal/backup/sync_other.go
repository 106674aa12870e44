//go:build !linux

package backup

import "os"

// syncFilesystem is nil where no syncfs(2) exists: a batch then fsyncs each file it writes.
var syncFilesystem func(f *os.File) error
