package journal

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data, and its metadata only where reading the data
// back needs it (fdatasync): not the times a write into zeroed space
// changes.
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}
