//go:build linux

package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair: the controlling side and the
// terminal a process is given.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("SKIP: no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlocking the pseudo-terminal: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("numbering the pseudo-terminal: %v", e)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return ptmx, tty
}

// echoOn reports whether the terminal echoes what is typed.
func echoOn(t *testing.T, tty *os.File) bool {
	t.Helper()
	var tio syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, tty.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); e != 0 {
		t.Fatalf("reading the terminal's settings: %v", e)
	}
	return tio.Lflag&syscall.ECHO != 0
}

// Ctrl-C or SIGTERM at a password prompt ends the command (the process
// catches both, so a blocked read ignored them) and gives the terminal its
// echo back.
func TestPasswordPromptGivesUpOnSignals(t *testing.T) {
	key, _ := shared(t)
	bin := filepath.Join(t.TempDir(), "hallmark")
	if err := os.Symlink(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			ptmx, tty := openPTY(t)
			cmd := exec.Command(bin, "public-key", "--key", key)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no password in the environment
			cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var out bytes.Buffer
			buf := make([]byte, 256)
			for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "Enter password"); {
				if time.Now().After(deadline) {
					t.Fatalf("no password prompt; the terminal got %q", out.String())
				}
				_ = ptmx.SetReadDeadline(time.Now().Add(time.Second))
				n, _ := ptmx.Read(buf)
				out.Write(buf[:n])
			}
			time.Sleep(100 * time.Millisecond) // into the read
			if echoOn(t, tty) {
				t.Fatal("the prompt left echo on")
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err == nil {
					t.Error("the command succeeded")
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("%v did not end the command at the password prompt", sig)
			}
			if !echoOn(t, tty) {
				t.Error("the terminal was left without echo")
			}
		})
	}
}
