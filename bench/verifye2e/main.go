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

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"hallmark.dev/hallmark/bench/internal/proc"
	"hallmark.dev/hallmark/internal/httpserve"
	"hallmark.dev/hallmark/internal/sample"
	"hallmark.dev/hallmark/pkg/registry"
)

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

	return proc.Compare("verify --key, end to end, embedded registry on loopback, bundle format", n, dir, env,
		append([]string{hm}, hmArgs...), append([]string{cosignPath}, coArgs...))
}
