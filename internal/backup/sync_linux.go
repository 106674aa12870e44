package backup

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFilesystem is syncfs(2): it writes every dirty page and all metadata of the filesystem
// holding f to stable storage, and (since Linux 5.8) reports a writeback error met since the
// previous call. https://man7.org/linux/man-pages/man2/syncfs.2.html
func syncFilesystem(f *os.File) error {
	for {
		err := unix.Syncfs(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}
