// Command logappend measures Hallmark's transparency log under write load:
// durable appends acknowledged with an inclusion proof, per second, and
// write latency p50/p99, at several client concurrencies. The log runs as
// its own process (`hallmark log serve`, POSIX storage) on loopback; entries
// are signed before the clock starts so only the log is measured. With
// -rekor-tiles it measures rekor-tiles' POSIX server in the same run, with
// the same Rekor v2 requests, and Hallmark's v2 endpoint beside it.
//
//	go run ./bench/logappend [-d 10s] [-c 1,16,256,4096] [-api v1,v2] [-rekor-tiles PATH]
//	go run ./bench/logappend -scale [-scale-clients 1024] [-scale-rounds 5] [-d 10s]
//
// -scale measures the MySQL scale-out instead (scale.go).
//
// scripts/build-rekor-tiles builds the peer (v2.4.2) from the module proxy.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/rekor"
)

func main() {
	dur := flag.Duration("d", 10*time.Second, "measuring time per concurrency level")
	levels := flag.String("c", "1,16,256,4096", "client concurrencies")
	bin := flag.String("hallmark", "", "hallmark binary (default: build ./cmd/hallmark)")
	url := flag.String("url", "", "load a log already running at this URL instead of starting one")
	peer := flag.String("rekor-tiles", "", "rekor-tiles POSIX server binary to measure in the same run")
	apis := flag.String("api", "v1,v2", "Hallmark write APIs to measure")
	scaleOut := flag.Bool("scale", false, "measure the MySQL scale-out instead: one frontend pinned to core 0 vs two on cores 0 and 1, one MariaDB")
	scaleClients := flag.Int("scale-clients", 1024, "clients for -scale, split evenly between frontends (enough to keep two frontends busy through 50 ms rounds)")
	scaleRounds := flag.Int("scale-rounds", 5, "alternating one/two-frontend rounds for -scale; the median ratio is reported")
	flag.Parse()
	if *scaleOut {
		dir, err := os.MkdirTemp("", "hallmark-logscale-")
		if err != nil {
			log.Fatal(err)
		}
		err = scale(dir, *bin, *scaleClients, *scaleRounds, *dur)
		os.RemoveAll(dir)
		if err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(*dur, *levels, *bin, *url, *peer, *apis); err != nil {
		log.Fatal(err)
	}
}

func run(dur time.Duration, levels, bin, url, peer, apis string) error {
	dir, err := os.MkdirTemp("", "hallmark-logbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cs, err := parseLevels(levels)
	if err != nil {
		return err
	}
	gen, err := newGenerator()
	if err != nil {
		return err
	}
	base := url
	if base == "" {
		if base, err = startLog(dir, bin); err != nil {
			return err
		}
		defer func() { _ = server.Process.Kill(); _ = server.Wait() }()
	}
	results := map[string][]*result{}
	fmt.Printf("durable appends acknowledged with an inclusion proof under a signed checkpoint; loopback HTTP; %s per level\n", dur)
	if strings.Contains(apis, "v1") {
		if results["hallmark v1"], err = measure("hallmark v1 (hashedrekord 0.0.1, + SET)", base+"/api/v1/log/entries", cs, dur, gen.entries); err != nil {
			return err
		}
	}
	if strings.Contains(apis, "v2") {
		if results["hallmark v2"], err = measure("hallmark v2 (hashedrekord 0.0.2)", base+"/api/v2/log/entries", cs, dur, gen.v2entries); err != nil {
			return err
		}
	}
	if peer == "" {
		return nil
	}
	peerURL, stop, err := startRekorTiles(dir, peer)
	if err != nil {
		return err
	}
	defer stop()
	if results["rekor-tiles"], err = measure(peerLabel(peer)+" POSIX (hashedrekord 0.0.2)", peerURL+"/api/v2/log/entries", cs, dur, gen.v2entries); err != nil {
		return err
	}
	for _, api := range []string{"v1", "v2"} {
		ours := results["hallmark "+api]
		if ours == nil {
			continue
		}
		fmt.Printf("\nratio hallmark %s / rekor-tiles (appends/s):", api)
		for i, c := range cs {
			fmt.Printf("  %d clients %.2fx", c, ours[i].rate/results["rekor-tiles"][i].rate)
		}
	}
	fmt.Println()
	return nil
}

func parseLevels(levels string) ([]int, error) {
	var cs []int
	for _, s := range strings.Split(levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			return nil, fmt.Errorf("concurrency %q", s)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// peerLabel names the peer by the version directory it was built into
// (scripts/build-rekor-tiles: ~/.cache/hallmark-rekor-tiles/VERSION/posix).
func peerLabel(bin string) string {
	if v := filepath.Base(filepath.Dir(bin)); strings.HasPrefix(v, "v") {
		return "rekor-tiles " + v
	}
	return "rekor-tiles (" + bin + ")"
}

// startRekorTiles runs rekor-tiles' POSIX server with settings favourable to
// it: short batches, 1 s checkpoints (its writers wait for one).
func startRekorTiles(dir, bin string) (string, func(), error) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(k)
	keyFile := filepath.Join(dir, "rekor-tiles.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", nil, err
	}
	port := freePort()
	cmd := exec.Command(bin, "serve", "--http-port", strconv.Itoa(port), "--grpc-port", strconv.Itoa(freePort()),
		"--http-metrics-port", strconv.Itoa(freePort()), "--hostname", "127.0.0.1", "--storage-dir", filepath.Join(dir, "rekor-tiles"),
		"--signer-filepath", keyFile, "--checkpoint-interval", "1s", "--batch-max-age", "5ms", "--batch-max-size", "1024",
		"--log-level", "error")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("rekor-tiles did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return base, stop, nil
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var server *exec.Cmd

func startLog(dir, bin string) (string, error) {
	if bin == "" {
		bin = filepath.Join(dir, "hallmark")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/hallmark").CombinedOutput(); err != nil {
			return "", fmt.Errorf("building hallmark: %v\n%s", err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	server = exec.Command(bin, "log", "serve", "--addr", addr, "--data", filepath.Join(dir, "log"))
	server.Stderr = io.Discard
	if err := server.Start(); err != nil {
		return "", err
	}
	base := "http://" + addr
	return base, waitUp(base)
}

// measure loads url at each concurrency and prints a table.
func measure(name, url string, cs []int, dur time.Duration, entries func(int) [][]byte) ([]*result, error) {
	fmt.Printf("\n%s\n%8s %10s %10s %10s %8s\n", name, "clients", "appends/s", "p50", "p99", "errors")
	var out []*result
	for _, c := range cs {
		r, err := load(url, c, dur, entries)
		if err != nil {
			return nil, err
		}
		fmt.Printf("%8d %10.0f %10s %10s %8d\n", c, r.rate, r.p50.Round(100*time.Microsecond), r.p99.Round(100*time.Microsecond), r.errors)
		if r.firstErr != "" {
			fmt.Printf("         first error: %.200s\n", r.firstErr)
		}
		out = append(out, r)
	}
	return out, nil
}

func waitUp(base string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/api/v1/log"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("log at %s did not start", base)
}

// generator pre-signs distinct hashedrekord entries on a background
// goroutine pool, ahead of the load.
type generator struct {
	key *ecdsa.PrivateKey
	pub []byte
	n   atomic.Int64
}

func newGenerator() (*generator, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	p, err := keys.MarshalPublicKey(k.Public())
	return &generator{key: k, pub: p}, err
}

func (g *generator) entries(n int) [][]byte { return g.make(n, false) }

func (g *generator) v2entries(n int) [][]byte { return g.make(n, true) }

func (g *generator) make(n int, v2 bool) [][]byte {
	out := make([][]byte, n)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 2 {
				d := sha256.Sum256([]byte(fmt.Sprint("bench entry ", g.n.Add(1))))
				sig, _ := ecdsa.SignASN1(rand.Reader, g.key, d[:])
				if v2 {
					out[i], _ = rekor.NewV2HashedRekord(d[:], sig, g.key.Public())
				} else {
					out[i], _ = rekor.NewHashedRekord(d[:], sig, g.pub)
				}
			}
		}(w)
	}
	wg.Wait()
	return out
}
