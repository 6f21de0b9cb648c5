// Command tsastamp measures RFC 3161 timestamping: timestamps issued per
// second by Hallmark's TSA and by sigstore's timestamp-authority, at several
// client concurrencies, with the same load generator in the same run and the
// same signing key and chain (Hallmark's, handed to timestamp-server as its
// file signer). Requests are cosign's: a SHA-256 imprint of a signature, no
// nonce, no certificate requested.
//
//	go run ./bench/tsastamp [-d 10s] [-c 1,16,256] [-tsa PATH]
//
// scripts/build-timestamp-authority builds the peer (v2.1.3).
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/digitorus/timestamp"

	"hallmark.dev/hallmark/bench/internal/load"
	"hallmark.dev/hallmark/bench/internal/proc"
)

func main() {
	home, _ := os.UserHomeDir()
	load.ClientFlag()
	dur := flag.Duration("d", 10*time.Second, "measuring time per side and concurrency")
	levels := flag.String("c", "1,16,256", "client concurrencies")
	peer := flag.String("tsa", filepath.Join(home, ".cache/hallmark-timestamp-authority/v2.1.3/timestamp-server"), "timestamp-server binary (scripts/build-timestamp-authority)")
	flag.Parse()
	if err := run(*dur, *levels, *peer); err != nil {
		log.Fatal(err)
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func start(dir, name, bin string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	return cmd, cmd.Start()
}

func run(dur time.Duration, levels, peer string) error {
	if _, err := os.Stat(peer); err != nil {
		return fmt.Errorf("timestamp-server binary %s: %w (scripts/build-timestamp-authority builds it)", peer, err)
	}
	dir, err := os.MkdirTemp("", "hallmark-tsabench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	hallmark := filepath.Join(dir, "hallmark")
	if out, err := exec.Command("go", "build", "-o", hallmark, "./cmd/hallmark").CombinedOutput(); err != nil {
		return fmt.Errorf("building hallmark: %v\n%s", err, out)
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(os.Interrupt)
			_ = p.Wait()
		}
	}()
	hmAddr := freeAddr()
	hmProc, err := start(dir, "hallmark-tsa", hallmark, "tsa", "serve", "--addr", hmAddr, "--data", filepath.Join(dir, "tsa"), "--log-level", "error", "--max-in-flight", "100000")
	if err != nil {
		return err
	}
	procs = append(procs, hmProc)
	if err := load.WaitReady("http://"+hmAddr+"/readyz", 30*time.Second); err != nil {
		return err
	}
	peerAddr := freeAddr()
	host, port, _ := net.SplitHostPort(peerAddr)
	peerProc, err := start(dir, "timestamp-server", peer, "serve", "--host", host, "--port", port, "--timestamp-signer", "file",
		"--file-signer-key-path", filepath.Join(dir, "tsa", "key.pem"), "--certificate-chain-path", filepath.Join(dir, "tsa", "chain.pem"),
		"--disable-ntp-monitoring", "--log-type", "prod")
	if err != nil {
		return err
	}
	procs = append(procs, peerProc)
	if err := waitPeer("http://" + peerAddr + "/api/v1/timestamp/certchain"); err != nil {
		return fmt.Errorf("%w (log in %s)", err, filepath.Join(dir, "timestamp-server.log"))
	}
	reqs := make([]load.Request, 1024)
	for i := range reqs {
		sig := make([]byte, 72)
		_, _ = rand.Read(sig)
		sum := sha256.Sum256(sig)
		der, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:]}).Marshal()
		if err != nil {
			return err
		}
		reqs[i] = load.Request{ContentType: "application/timestamp-query", Body: der}
	}
	sides := []struct {
		name, url string
		proc      *exec.Cmd
	}{
		{"timestamp-authority v2.1.3", "http://" + peerAddr + "/api/v1/timestamp", peerProc},
		{"Hallmark TSA", "http://" + hmAddr + "/api/v1/timestamp", hmProc},
	}
	fmt.Printf("RFC 3161 timestamps, %s per side and level, same key and chain, same load generator (client %s)\n", dur, load.Client)
	for _, lv := range strings.Split(levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(lv))
		if err != nil || c < 1 {
			return fmt.Errorf("-c: %q", lv)
		}
		var rates []float64
		for _, s := range sides {
			next := func(i int) load.Request { r := reqs[i%len(reqs)]; r.URL = s.url; return r }
			_, _ = load.Run(c, time.Second, http.StatusOK, next)
			cpu0 := proc.CPUTime(s.proc)
			res, err := load.Run(c, dur, http.StatusOK, next)
			if err != nil {
				return fmt.Errorf("%s at %d clients: %w", s.name, c, err)
			}
			cpu := proc.CPUTime(s.proc) - cpu0
			rates = append(rates, res.Rate)
			fmt.Printf("%4d clients  %-28s %s  server CPU %4.0f µs/stamp\n", c, s.name, res, cpu.Seconds()*1e6/(res.Rate*dur.Seconds()))
		}
		fmt.Printf("%4d clients  Hallmark / timestamp-authority: %.2fx\n", c, rates[1]/rates[0])
	}
	return nil
}

func waitPeer(url string) error {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s did not answer", url)
}
