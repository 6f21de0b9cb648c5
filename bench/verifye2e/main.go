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
	"log"

	"hallmark.dev/hallmark/bench/internal/proc"
)

func main() {
	n := flag.Int("n", 30, "verifications per tool")
	cosignPath := proc.CosignFlag()
	flag.Parse()
	if err := run(*n, *cosignPath); err != nil {
		log.Fatal(err)
	}
}

func run(n int, cosignPath string) error {
	dir, hm, cleanup, err := proc.Setup(cosignPath)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	host, err := proc.Registry(ctx, dir)
	if err != nil {
		return err
	}
	ref := host + "/bench/app:v1"
	if err := proc.PushSample(ref, "benchmark image"); err != nil {
		return err
	}
	env := proc.Env(dir)
	for _, args := range [][]string{{"generate-key-pair"}, {"sign", "--key", "cosign.key", ref}} {
		if _, err := proc.Run(dir, env, hm, args...); err != nil {
			return err
		}
	}
	root, err := proc.OfflineTrustedRoot(dir)
	if err != nil {
		return err
	}
	hmArgs := []string{"verify", "--key", "cosign.pub", "--insecure-ignore-tlog", ref}
	coArgs := []string{"verify", "--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", root, ref}

	return proc.Compare("verify --key, end to end, embedded registry on loopback, bundle format", n, dir, env,
		append([]string{hm}, hmArgs...), append([]string{cosignPath}, coArgs...))
}
