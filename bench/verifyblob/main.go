// Command verifyblob measures keyless `verify-blob` end to end, as a user
// runs it: a public-good bundle (Fulcio certificate with SCT, Rekor entry
// with SET and inclusion proof) from the conformance suite, checked against
// the public-good trusted root by Hallmark and by cosign, one process per
// verification, alternating in the same run. It prints median wall time and
// peak RSS for each and the ratios.
//
//	go run ./bench/verifyblob [-n 20] [-cosign PATH]
package main

import (
	"flag"
	"log"
	"os"
	"path/filepath"

	"hallmark.dev/hallmark/bench/internal/proc"
)

const (
	data     = "internal/conformance/testdata/"
	identity = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
	issuer   = "https://token.actions.githubusercontent.com"
)

func main() {
	n := flag.Int("n", 20, "verifications per tool")
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
	wd, _ := os.Getwd()
	abs := func(p string) string { return filepath.Join(wd, data, p) }
	args := []string{"verify-blob", "--bundle", abs("bundle-verify/happy-path-v0.3/bundle.sigstore.json"),
		"--certificate-identity", identity, "--certificate-oidc-issuer", issuer,
		"--trusted-root", abs("trusted_root-public-good.json"), abs("a.txt")}
	env := append(os.Environ(), "TUF_ROOT="+filepath.Join(dir, "tuf"))
	return proc.Compare("keyless verify-blob, public-good bundle and trusted root", n, dir, env,
		append([]string{hm}, args...), append([]string{cosignPath}, args...))
}
