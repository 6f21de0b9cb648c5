// Command keylesssign measures keyless `sign-blob` end to end, as a user
// runs it in CI, against `hallmark serve` (as its own process): identity
// token → certificate from the CA (SCT embedded) → Rekor entry → RFC 3161
// timestamp → bundle, with the post-signing check against the trusted root.
// Hallmark and cosign run alternately, one process per signature, with the
// same token, signing config and trusted root. It prints median wall time
// and peak RSS for each and the ratios.
//
//	go run ./bench/keylesssign [-n 20] [-rekor-api 1|2] [-cosign PATH]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"hallmark.dev/hallmark/bench/internal/proc"
)

func main() {
	n := flag.Int("n", 20, "signatures per tool")
	api := flag.Int("rekor-api", 1, "Rekor API the signing config names (1 or 2)")
	cosignPath := proc.CosignFlag()
	flag.Parse()
	if err := run(*n, *api, *cosignPath); err != nil {
		log.Fatal(err)
	}
}

func run(n, api int, cosignPath string) error {
	dir, hm, cleanup, err := proc.Setup(cosignPath)
	if err != nil {
		return err
	}
	defer cleanup()
	data := filepath.Join(dir, "stack")
	args := []string{"serve", "--data", data, "--token-ttl", "1h", "--log-level", "error"}
	for _, s := range []string{"registry", "rekor", "ct", "ca", "oidc", "tsa"} {
		args = append(args, "--"+s+"-addr", "127.0.0.1:0")
	}
	srv := exec.Command(hm, args...)
	logf, _ := os.Create(filepath.Join(dir, "serve.log"))
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Signal(os.Interrupt); _ = srv.Wait() }()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var s struct{ CA string }
		if b, err := os.ReadFile(filepath.Join(data, "services.json")); err == nil && json.Unmarshal(b, &s) == nil && s.CA != "" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("hallmark serve did not start (log in %s)", logf.Name())
		}
	}
	tok := filepath.Join(dir, "token")
	if out, err := exec.Command(hm, "oidc", "token", "--data", data, "-o", tok).CombinedOutput(); err != nil {
		return fmt.Errorf("oidc token: %v\n%s", err, out)
	}
	blob := filepath.Join(dir, "artifact.bin")
	if err := os.WriteFile(blob, make([]byte, 1<<20), 0o644); err != nil {
		return err
	}
	sc := filepath.Join(data, "signing-config.json")
	if api == 2 {
		sc = filepath.Join(data, "signing-config-rekor-v2.json")
	}
	common := func(out string) []string {
		return []string{"sign-blob", "--identity-token", tok, "--signing-config", sc, "--trusted-root", filepath.Join(data, "trusted-root.json"),
			"--bundle", filepath.Join(dir, out), "-y", blob}
	}
	env := append(os.Environ(), "TUF_ROOT="+filepath.Join(dir, "tuf"), "COSIGN_YES=true")
	return proc.Compare(fmt.Sprintf("keyless sign-blob against hallmark serve (Rekor API v%d, TSA, SCT), 1 MiB blob", api), n, dir, env,
		append([]string{hm}, common("hallmark.json")...), append([]string{cosignPath}, common("cosign.json")...))
}
