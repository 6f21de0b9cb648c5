package log

import (
	"context"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"hallmark.dev/hallmark/internal/hallmarktest"
)

// TestMain keeps Tessera's klog output out of test logs, and turns the test
// binary into a log server when the crash test starts it as a child.
func TestMain(m *testing.M) {
	hallmarktest.QuietKlog()
	if dir := os.Getenv("HALLMARK_CRASH_CHILD_DIR"); dir != "" {
		os.Exit(crashChild(dir, os.Getenv("HALLMARK_CRASH_CHILD_ADDR")))
	}
	os.Exit(m.Run())
}

// crashChild serves a log until it is killed: on POSIX storage in dir, or,
// as one frontend of a scale-out log, on the MySQL database named by
// HALLMARK_CRASH_CHILD_MYSQL with the key in HALLMARK_CRASH_CHILD_KEY.
func crashChild(dir, addr string) int {
	key, err := LoadOrCreateSigner(dir, os.Getenv("HALLMARK_CRASH_CHILD_KEY"), nil)
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 3
	}
	cfg := Config{Dir: dir, Signer: key, ReindexAfter: time.Second}
	if dsn := os.Getenv("HALLMARK_CRASH_CHILD_MYSQL"); dsn != "" {
		if cfg.MySQL, err = OpenMySQL(context.Background(), dsn, 32); err != nil {
			os.Stderr.WriteString(err.Error())
			return 3
		}
	}
	svc, err := Open(context.Background(), cfg)
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 3
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 3
	}
	_ = http.Serve(ln, NewHandler(svc, 0, nil))
	return 0
}
