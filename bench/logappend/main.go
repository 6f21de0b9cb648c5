// Command logappend measures Hallmark's transparency log under write load:
// durable appends acknowledged with an inclusion proof, per second, and
// write latency p50/p99, at several client concurrencies. The log runs as
// its own process (`hallmark log serve`, POSIX storage) on loopback; entries
// are signed before the clock starts so only the log is measured.
//
//	go run ./bench/logappend [-d 10s] [-c 1,16,256,4096]
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	flag.Parse()
	if err := run(*dur, *levels, *bin, *url); err != nil {
		log.Fatal(err)
	}
}

func run(dur time.Duration, levels, bin, url string) error {
	dir, err := os.MkdirTemp("", "hallmark-logbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	base := url
	if base == "" {
		if base, err = startLog(dir, bin); err != nil {
			return err
		}
	}
	return measure(base, dur, levels)
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

func measure(base string, dur time.Duration, levels string) error {
	if server != nil {
		defer func() { _ = server.Process.Kill(); _ = server.Wait() }()
	}

	var cs []int
	for _, s := range strings.Split(levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			return fmt.Errorf("concurrency %q", s)
		}
		cs = append(cs, c)
	}
	gen, err := newGenerator()
	if err != nil {
		return err
	}
	fmt.Printf("hallmark log: durable appends acknowledged with inclusion proof + checkpoint + SET, POSIX storage, loopback HTTP, %s per level\n", dur)
	fmt.Printf("%8s %10s %10s %10s %8s\n", "clients", "appends/s", "p50", "p99", "errors")
	for _, c := range cs {
		r, err := load(base, c, dur, gen)
		if err != nil {
			return err
		}
		fmt.Printf("%8d %10.0f %10s %10s %8d\n", c, r.rate, r.p50.Round(100*time.Microsecond), r.p99.Round(100*time.Microsecond), r.errors)
	}
	return nil
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

func (g *generator) entries(n int) [][]byte {
	out := make([][]byte, n)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 2 {
				d := sha256.Sum256([]byte(fmt.Sprint("bench entry ", g.n.Add(1))))
				sig, _ := ecdsa.SignASN1(rand.Reader, g.key, d[:])
				out[i], _ = rekor.NewHashedRekord(d[:], sig, g.pub)
			}
		}(w)
	}
	wg.Wait()
	return out
}

type result struct {
	rate     float64
	p50, p99 time.Duration
	errors   int64
}

func load(base string, clients int, dur time.Duration, g *generator) (*result, error) {
	// Enough entries for a generous rate; each is used once.
	budget := int(dur.Seconds()*12000) + clients*4
	entries := g.entries(budget)
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	defer tr.CloseIdleConnections()
	var (
		next     atomic.Int64
		okCount  atomic.Int64
		errCount atomic.Int64
		mu       sync.Mutex
		lats     []time.Duration
	)
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if int(i) >= len(entries) {
					break
				}
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/log/entries", bytes.NewReader(entries[i]))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errCount.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errCount.Add(1)
					continue
				}
				okCount.Add(1)
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(lats) == 0 {
		return nil, fmt.Errorf("no append acknowledged at %d clients", clients)
	}
	slices.Sort(lats)
	return &result{
		rate: float64(okCount.Load()) / elapsed.Seconds(), errors: errCount.Load(),
		p50: lats[len(lats)/2], p99: lats[len(lats)*99/100],
	}, nil
}
