package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// scale measures the MySQL scale-out: appends/s of one `log serve --mysql`
// frontend pinned to core 0, then of two frontends pinned to cores 0 and 1,
// on the same MariaDB (Debian's, default limits, started here), driven by
// the same generator with the same clients split evenly, in alternating rounds
// (one, two, one, two, ...), and the median ratio. It reports the database's and the frontends' CPU per
// append from /proc.
func scale(dir, bin string, clients, rounds int, dur time.Duration) error {
	if _, err := exec.LookPath("taskset"); err != nil {
		return fmt.Errorf("-scale pins frontends with taskset (util-linux): %w", err)
	}
	bin, err := buildHallmark(dir, bin)
	if err != nil {
		return err
	}
	dsn, db, stopDB, err := startMariaDB(dir)
	if err != nil {
		return err
	}
	defer stopDB()
	keyPath := filepath.Join(dir, "signer.pem")
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	gen, err := newGenerator()
	if err != nil {
		return err
	}
	fmt.Printf("MySQL scale-out: %d clients, %s per measurement, MariaDB %s (default limits, unpinned), load generator unpinned\n", clients, dur, mariadbVersion(db))
	fmt.Printf("%-28s %10s %10s %10s %14s %14s %14s %14s %8s\n", "frontends", "appends/s", "p50", "p99", "DB CPU/append", "FE CPU/append", "gen CPU/append", "all CPU/append", "errors")
	var rates [2][]float64
	for round := 0; round < rounds; round++ {
		for n := 1; n <= 2; n++ {
			r, err := scaleOnce(dir, bin, dsn, keyPath, db, n, clients, dur, gen)
			if err != nil {
				return err
			}
			rates[n-1] = append(rates[n-1], r)
		}
	}
	var ratios []float64
	for i := range rates[0] {
		ratios = append(ratios, rates[1][i]/rates[0][i])
		fmt.Printf("round %d: two frontends / one = %.2fx\n", i+1, ratios[i])
	}
	slices.Sort(ratios)
	fmt.Printf("median of %d rounds: two frontends / one = %.2fx\n", len(ratios), ratios[len(ratios)/2])
	return nil
}

func scaleOnce(dir, bin, dsn, keyPath string, db *sql.DB, n, clients int, dur time.Duration, gen *generator) (float64, error) {
	var (
		fronts []*exec.Cmd
		bases  []string
	)
	defer func() {
		for _, f := range fronts {
			_ = f.Process.Signal(syscall.SIGTERM)
			_ = f.Wait()
		}
	}()
	for core := 0; core < n; core++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		addr := ln.Addr().String()
		ln.Close()
		data, _ := os.MkdirTemp(dir, "frontend-")
		cmd := exec.Command("taskset", "-c", strconv.Itoa(core), bin, "log", "serve", "--mysql", dsn,
			"--signer", keyPath, "--data", data, "--addr", addr)
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		fronts = append(fronts, cmd)
		base := "http://" + addr
		if err := waitUp(base); err != nil {
			return 0, err
		}
		bases = append(bases, base)
	}
	// Warm up (connections, caches), then measure.
	if err := loadAll(bases, clients, time.Second, gen); err != nil {
		return 0, err
	}
	dbPID, err := mariadbPID(db)
	if err != nil {
		return 0, err
	}
	// Entries are signed before any clock starts, so the generator's CPU in
	// the window is its HTTP alone and both frontends start together.
	pre := make([][][]byte, len(bases))
	for i := range bases {
		pre[i] = gen.entries(int(dur.Seconds()*8000) + clients)
	}
	st0 := dbStatus(db)
	genCPU0 := cpuOf(os.Getpid())
	busy0 := machineBusy()
	dbCPU0 := cpuOf(dbPID)
	var feCPU0 float64
	for _, f := range fronts {
		feCPU0 += cpuOf(f.Process.Pid)
	}
	results := make([]*result, len(bases))
	var wg sync.WaitGroup
	var firstErr error
	for i, b := range bases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := load(b+"/api/v1/log/entries", clients/len(bases), dur, func(int) [][]byte { return pre[i] })
			if err != nil {
				firstErr = err
			}
			results[i] = r
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	var rate float64
	var p50, p99 time.Duration
	var errs int64
	for _, r := range results {
		rate += r.rate
		p50, p99 = max(p50, r.p50), max(p99, r.p99)
		errs += r.errors
	}
	appends := rate * dur.Seconds()
	dbCPU := cpuOf(dbPID) - dbCPU0
	var feCPU float64
	for _, f := range fronts {
		feCPU += cpuOf(f.Process.Pid)
	}
	feCPU -= feCPU0
	st1 := dbStatus(db)
	genCPU := cpuOf(os.Getpid()) - genCPU0
	busy := machineBusy() - busy0
	defer func() {
		fmt.Printf("%28s", "per append:")
		for _, k := range statusKeys {
			fmt.Printf(" %s %.3f", strings.TrimPrefix(strings.TrimPrefix(k, "Com_"), "Innodb_"), (st1[k]-st0[k])/appends)
		}
		fmt.Println()
	}()
	label := "one (core 0)"
	if n == 2 {
		label = "two (cores 0, 1)"
	}
	fmt.Printf("%-28s %10.0f %10s %10s %11.0f µs %11.0f µs %11.0f µs %11.0f µs %8d\n", label, rate, p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond),
		dbCPU/appends*1e6, feCPU/appends*1e6, genCPU/appends*1e6, busy/appends*1e6, errs)
	return rate, nil
}

// loadAll drives every base with its share of clients for dur.
func loadAll(bases []string, clients int, dur time.Duration, gen *generator) error {
	var wg sync.WaitGroup
	errs := make([]error, len(bases))
	for i, b := range bases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = load(b+"/api/v1/log/entries", max(clients/len(bases), 1), dur, gen.entries)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func buildHallmark(dir, bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bin = filepath.Join(dir, "hallmark")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/hallmark").CombinedOutput(); err != nil {
		return "", fmt.Errorf("building hallmark: %v\n%s", err, out)
	}
	return bin, nil
}

// startMariaDB runs Debian's MariaDB on a loopback port with its default
// limits (max_connections 151) and durable commits.
func startMariaDB(dir string) (string, *sql.DB, func(), error) {
	server, err := exec.LookPath("mariadbd")
	if err != nil {
		server = "/usr/sbin/mariadbd"
	}
	data := filepath.Join(dir, "mariadb")
	if out, err := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput(); err != nil {
		return "", nil, nil, fmt.Errorf("mariadb-install-db (Debian package mariadb-server): %v\n%s", err, out)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(server, "--no-defaults", "--datadir="+data, "--user=root", fmt.Sprintf("--port=%d", port),
		"--bind-address=127.0.0.1", "--socket="+filepath.Join(dir, "mariadb.sock"), "--skip-grant-tables",
		"--log-error="+filepath.Join(dir, "mariadb.log"), "--innodb-buffer-pool-size=512M", "--innodb-log-file-size=512M")
	if err := cmd.Start(); err != nil {
		return "", nil, nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	root := fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := sql.Open("mysql", root)
		if err == nil {
			if err = db.Ping(); err == nil {
				if _, err = db.Exec("CREATE DATABASE IF NOT EXISTS hallmark"); err == nil {
					return root + "hallmark", db, func() { db.Close(); stop() }, nil
				}
			}
			db.Close()
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, nil, fmt.Errorf("MariaDB did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mariadbVersion(db *sql.DB) string {
	var v string
	_ = db.QueryRow("SELECT VERSION()").Scan(&v)
	return v
}

func mariadbPID(db *sql.DB) (int, error) {
	var file string
	if err := db.QueryRow("SELECT @@pid_file").Scan(&file); err != nil {
		return 0, err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("MariaDB pid file: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// cpuOf is a process's user+system CPU seconds, from /proc (taskset execs
// the frontend, so its pid is the frontend's own).
func cpuOf(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// statusKeys are the server counters reported per append.
var statusKeys = []string{"Questions", "Com_select", "Com_commit", "Innodb_data_fsyncs", "Innodb_data_written", "Bytes_received", "Bytes_sent"}

func dbStatus(db *sql.DB) map[string]float64 {
	out := map[string]float64{}
	rows, err := db.Query("SHOW GLOBAL STATUS")
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if rows.Scan(&k, &v) == nil {
			f, _ := strconv.ParseFloat(v, 64)
			out[k] = f
		}
	}
	return out
}

// machineBusy is the CPU seconds every core spent on anything but idling
// and waiting for I/O, from /proc/stat (kernel work such as loopback TCP
// included, which no process is charged for).
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)[1:]
	var busy float64
	for i, v := range f {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / 100
}
