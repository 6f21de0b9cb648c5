// Command verifyattest measures `verify-attestation --key` end to end on an
// image carrying a large CycloneDX SBOM attestation (5 MB by default), with
// and without a Rego policy: one process per verification against the
// embedded registry on loopback, Hallmark and cosign alternating on the same
// attestation in the same run; median wall time and peak RSS, and ratios.
//
//	go run ./bench/verifyattest [-n 20] [-mb 5] [-cosign PATH]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"hallmark.dev/hallmark/bench/internal/proc"
)

func main() {
	n := flag.Int("n", 20, "verifications per tool and case")
	mb := flag.Float64("mb", 5, "SBOM size in MB")
	cosignPath := proc.CosignFlag()
	flag.Parse()
	if err := run(*n, *mb, *cosignPath); err != nil {
		log.Fatal(err)
	}
}

// sbom writes a CycloneDX 1.5 BOM of about mb megabytes.
func sbom(path string, mb float64) (int, error) {
	type comp struct {
		Type     string `json:"type"`
		BOMRef   string `json:"bom-ref"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		PURL     string `json:"purl"`
		Licenses []any  `json:"licenses"`
		Hashes   []any  `json:"hashes"`
	}
	var comps []comp
	size := 0
	for i := 0; float64(size) < mb*1e6; i++ {
		n := fmt.Sprintf("example.com/module%05d/pkg", i)
		v := fmt.Sprintf("v1.%d.%d", i%40, i%7)
		c := comp{Type: "library", BOMRef: "pkg:golang/" + n + "@" + v, Name: n, Version: v, PURL: "pkg:golang/" + n + "@" + v,
			Licenses: []any{map[string]any{"license": map[string]string{"id": "Apache-2.0"}}},
			Hashes:   []any{map[string]string{"alg": "SHA-256", "content": fmt.Sprintf("%064x", i*7919)}}}
		b, _ := json.Marshal(c)
		size += len(b) + 1
		comps = append(comps, c)
	}
	doc := map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
		"metadata":   map[string]any{"component": map[string]string{"type": "application", "name": "bench/app", "version": "v1"}},
		"components": comps}
	b, err := json.Marshal(doc)
	if err != nil {
		return 0, err
	}
	return len(b), os.WriteFile(path, b, 0o644)
}

const policy = `package signature

# Every component of the SBOM carries a license.
default allow = false

allow {
	input.predicateType == "https://cyclonedx.org/bom"
	count(unlicensed) == 0
}

unlicensed[c.name] {
	c := input.predicate.components[_]
	count(c.licenses) == 0
}
`

func run(n int, mb float64, cosignPath string) error {
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
	if err := proc.PushSample(ref, "attestation benchmark image"); err != nil {
		return err
	}
	bomPath := filepath.Join(dir, "sbom.cdx.json")
	size, err := sbom(bomPath, mb)
	if err != nil {
		return err
	}
	polPath := filepath.Join(dir, "licensed.rego")
	if err := os.WriteFile(polPath, []byte(policy), 0o644); err != nil {
		return err
	}
	env := proc.Env(dir)
	for _, args := range [][]string{{"generate-key-pair"}, {"attest", "--key", "cosign.key", "--type", "cyclonedx", "--predicate", bomPath, ref}} {
		if _, err := proc.Run(dir, env, hm, args...); err != nil {
			return err
		}
	}
	root, err := proc.OfflineTrustedRoot(dir)
	if err != nil {
		return err
	}
	fmt.Printf("CycloneDX SBOM of %.1f MB attested (bundle format) on an image in the embedded registry\n\n", float64(size)/1e6)
	for _, pol := range [][]string{nil, {"--policy", polPath}} {
		hmArgs := append([]string{hm, "verify-attestation", "--key", "cosign.pub", "--insecure-ignore-tlog", "--type", "cyclonedx"}, pol...)
		coArgs := append([]string{cosignPath, "verify-attestation", "--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-insecure-registry",
			"--trusted-root", root, "--type", "cyclonedx"}, pol...)
		title := "verify-attestation --key, no policy"
		if pol != nil {
			title = "verify-attestation --key, with a Rego policy over every component"
		}
		if err := proc.Compare(title, n, dir, env, append(hmArgs, ref), append(coArgs, ref)); err != nil {
			return err
		}
		fmt.Println()
	}
	return nil
}
