package hallmarktest

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // MariaDB speaks the MySQL protocol
)

// MariaDB starts a throwaway MariaDB server (Debian's mariadb-server) on a
// loopback port with its data in a temporary directory, creates database
// name, and returns a DSN for it. The server stops when the test ends.
func MariaDB(t testing.TB, name string) string {
	t.Helper()
	server, err := exec.LookPath("mariadbd")
	if err != nil {
		server, err = exec.LookPath("/usr/sbin/mariadbd")
	}
	installDB, ierr := exec.LookPath("mariadb-install-db")
	if err != nil || ierr != nil {
		missingPeer(t, "MariaDB (Debian package mariadb-server)", "run scripts/test, which installs it")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(installDB, "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	port := freePort(t)
	cmd := exec.Command(server, "--no-defaults", "--datadir="+data, "--user=root",
		fmt.Sprintf("--port=%d", port), "--bind-address=127.0.0.1", "--socket="+filepath.Join(dir, "sock"),
		"--pid-file="+filepath.Join(dir, "pid"), "--skip-grant-tables", "--innodb-buffer-pool-size=64M",
		"--innodb-flush-log-at-trx-commit=1", "--log-error="+filepath.Join(dir, "error.log"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mariadbd: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	root := fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := sql.Open("mysql", root)
		if err == nil {
			err = db.Ping()
			if err == nil {
				_, err = db.Exec("CREATE DATABASE IF NOT EXISTS `" + name + "`")
			}
			db.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("MariaDB did not start on port %d: %v\n%s", port, err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return root + name
}
