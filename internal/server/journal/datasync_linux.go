package journal

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data, and its metadata only where reading the data
// back needs it (fdatasync): not the times a write into zeroed space
// changes. Through f's RawConn, so that f cannot be closed (and its
// descriptor reused) meanwhile.
func datasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = unix.Fdatasync(int(fd)); serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}
