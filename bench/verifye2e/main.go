// Command verifye2e measures `verify --key` end to end, as a user runs it:
// one process per verification against the embedded registry on loopback,
// Hallmark and cosign alternating on the same image and signature in the
// same run. It prints median wall time and peak RSS for each and the ratios.
//
//	go run ./bench/verifye2e [-n 30] [-cosign PATH]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"hallmark.dev/hallmark/internal/httpserve"
	"hallmark.dev/hallmark/internal/sample"
	"hallmark.dev/hallmark/pkg/registry"
)

type sample1 struct {
	wall   time.Duration
	maxRSS int64 // KiB
}

func main() {
	n := flag.Int("n", 30, "verifications per tool")
	home, _ := os.UserHomeDir()
	cosignPath := flag.String("cosign", filepath.Join(home, ".cache/hallmark-cosign/v3.1.3/cosign"), "cosign binary")
	flag.Parse()
	if err := run(*n, *cosignPath); err != nil {
		log.Fatal(err)
	}
}

func run(n int, cosignPath string) error {
	if _, err := os.Stat(cosignPath); err != nil {
		return fmt.Errorf("cosign binary %s: %w (scripts/test builds it)", cosignPath, err)
	}
	dir, err := os.MkdirTemp("", "hallmark-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	hm := filepath.Join(dir, "hallmark")
	if out, err := exec.Command("go", "build", "-o", hm, "./cmd/hallmark").CombinedOutput(); err != nil {
		return fmt.Errorf("building hallmark: %v\n%s", err, out)
	}

	reg, err := registry.Open(filepath.Join(dir, "registry"), nil)
	if err != nil {
		return err
	}
	defer reg.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = httpserve.Serve(ctx, ln, reg, "", "") }()
	ref := ln.Addr().String() + "/bench/app:v1"
	img, _ := sample.Image("benchmark image")
	tag, _ := name.NewTag(ref)
	if err := remote.Write(tag, img); err != nil {
		return err
	}
	env := append(os.Environ(), "COSIGN_PASSWORD=", "HALLMARK_PASSWORD=", "TUF_ROOT="+filepath.Join(dir, "tuf"))
	runOK := func(name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %v: %v\n%s", name, args, err, out)
		}
		return nil
	}
	if err := runOK(hm, "generate-key-pair"); err != nil {
		return err
	}
	if err := runOK(hm, "sign", "--key", "cosign.key", ref); err != nil {
		return err
	}
	root := filepath.Join(dir, "trusted-root.json")
	if err := os.WriteFile(root, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644); err != nil {
		return err
	}
	hmArgs := []string{"verify", "--key", "cosign.pub", "--insecure-ignore-tlog", ref}
	coArgs := []string{"verify", "--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", root, ref}

	measure := func(bin string, args []string) (sample1, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		wall := time.Since(start)
		if err != nil {
			return sample1{}, fmt.Errorf("%s: %v\n%s", bin, err, out)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		return sample1{wall, ru.Maxrss}, nil
	}
	// Warm both (page cache, first-run effects), then alternate.
	if _, err := measure(hm, hmArgs); err != nil {
		return err
	}
	if _, err := measure(cosignPath, coArgs); err != nil {
		return err
	}
	var hs, cs []sample1
	for i := 0; i < n; i++ {
		h, err := measure(hm, hmArgs)
		if err != nil {
			return err
		}
		c, err := measure(cosignPath, coArgs)
		if err != nil {
			return err
		}
		hs, cs = append(hs, h), append(cs, c)
	}
	hw, hr := medians(hs)
	cw, cr := medians(cs)
	fmt.Printf("verify --key, end to end, %d runs each, embedded registry on loopback, bundle format\n", n)
	fmt.Printf("%-10s %12s %14s\n", "tool", "median wall", "median maxRSS")
	fmt.Printf("%-10s %12s %11.1f MiB\n", "hallmark", hw.Round(10*time.Microsecond), float64(hr)/1024)
	fmt.Printf("%-10s %12s %11.1f MiB\n", "cosign", cw.Round(10*time.Microsecond), float64(cr)/1024)
	fmt.Printf("ratio hallmark/cosign: wall %.2f, peak memory %.2f\n", float64(hw)/float64(cw), float64(hr)/float64(cr))
	return nil
}

func medians(s []sample1) (time.Duration, int64) {
	w := make([]time.Duration, len(s))
	r := make([]int64, len(s))
	for i, x := range s {
		w[i], r[i] = x.wall, x.maxRSS
	}
	slices.Sort(w)
	slices.Sort(r)
	return w[len(w)/2], r[len(r)/2]
}
