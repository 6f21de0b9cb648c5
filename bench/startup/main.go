// Command startup measures what every command pays before it does anything:
// `hallmark version` and `hallmark verify --key` (an image in the embedded
// registry), as whole processes, for Hallmark as built from this tree, for the
// same tree without the policy engines (pkg/policy's OPA and CUE files
// replaced by stubs through `go build -overlay`, so nothing else differs),
// and for cosign verify. Rows alternate within each round, so drift on a
// shared machine falls on every row alike; it prints medians, the growth the
// policy engines cost, and hallmark verify over cosign verify.
//
//	go run ./bench/startup [-n 40] [-before COMMIT] [-cosign PATH]
//
// -before adds the rows of a binary built from COMMIT (git archive), to
// show a change's effect in the same run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"hallmark.dev/hallmark/bench/internal/proc"
)

func main() {
	n := flag.Int("n", 40, "rounds (each runs every row once)")
	before := flag.String("before", "", "also measure a binary built at this commit")
	cosignPath := proc.CosignFlag()
	flag.Parse()
	if err := run(*n, *before, *cosignPath); err != nil {
		log.Fatal(err)
	}
}

// stubs replace the files of pkg/policy that link OPA and CUE; the rest of
// the package still compiles against them.
var stubs = map[string]string{
	"rego.go": `package policy

import (
	"context"
	"errors"
)

type regoPolicy struct{ file string }

type Rule struct{ Package, Name string }

var (
	Cosign           = Rule{"signature", "allow"}
	PolicyController = Rule{"sigstore", "isCompliant"}
)

func compileRego(file string, src []byte) (*regoPolicy, error) { return compileRegoRule(file, src, Cosign) }

func compileRegoRule(file string, _ []byte, _ Rule) (*regoPolicy, error) {
	return nil, errors.New("policy " + file + ": built without Rego")
}

func (p *regoPolicy) Name() string                              { return p.file }
func (p *regoPolicy) Evaluate(context.Context, []byte) error { return nil }
`,
	"cue.go": `package policy

import (
	"context"
	"errors"
)

type cuePolicy struct{ file string }

func compileCUE(file string, _ []byte) (*cuePolicy, error) {
	return nil, errors.New("policy " + file + ": built without CUE")
}

func (p *cuePolicy) Name() string                              { return p.file }
func (p *cuePolicy) Evaluate(context.Context, []byte) error { return nil }
`,
	"input.go": "package policy\n",
}

func run(n int, before, cosignPath string) error {
	dir, hm, cleanup, err := proc.Setup(cosignPath)
	if err != nil {
		return err
	}
	defer cleanup()
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	without := filepath.Join(dir, "hallmark-without-policy-engines")
	if err := buildWithout(repo, dir, without); err != nil {
		return err
	}
	bins := []struct{ name, path string }{{"this tree", hm}, {"without OPA+CUE", without}}
	if before != "" {
		b := filepath.Join(dir, "hallmark-before")
		src := filepath.Join(dir, "before-src")
		sh := fmt.Sprintf("mkdir -p %s && git archive %s | tar -x -C %s && cd %s && go build -o %s ./cmd/hallmark", src, before, src, src, b)
		if out, err := exec.Command("bash", "-c", sh).CombinedOutput(); err != nil {
			return fmt.Errorf("building hallmark at %s: %v\n%s", before, err, out)
		}
		bins = append(bins, struct{ name, path string }{"at " + before, b})
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	host, err := proc.Registry(ctx, dir)
	if err != nil {
		return err
	}
	env := proc.Env(dir)
	if _, err := proc.Run(dir, env, hm, "generate-key-pair"); err != nil {
		return err
	}
	ref := host + "/bench/startup:v1"
	if err := proc.PushSample(ref, "startup image"); err != nil {
		return err
	}
	if _, err := proc.Run(dir, env, hm, "sign", "--key", "cosign.key", ref); err != nil {
		return err
	}
	root, err := proc.OfflineTrustedRoot(dir)
	if err != nil {
		return err
	}

	type row struct {
		name string
		args []string
		s    []proc.Sample
	}
	var rows []*row
	verify := []string{"verify", "--key", "cosign.pub", "--insecure-ignore-tlog", ref}
	for _, b := range bins {
		rows = append(rows,
			&row{name: "version, " + b.name, args: []string{b.path, "version"}},
			&row{name: "verify --key, " + b.name, args: append([]string{b.path}, verify...)})
	}
	rows = append(rows, &row{name: "cosign verify --key", args: []string{cosignPath, "verify", "--key", "cosign.pub",
		"--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", root, ref}})
	for i := -1; i < n; i++ { // round -1 warms the page cache
		for _, r := range rows {
			x, err := proc.Run(dir, env, r.args[0], r.args[1:]...)
			if err != nil {
				return err
			}
			if i >= 0 {
				r.s = append(r.s, x)
			}
		}
	}
	med := map[string]time.Duration{}
	fmt.Printf("%-40s %12s %12s   (%d alternating rounds, medians)\n", "command", "wall", "maxRSS", n)
	for _, r := range rows {
		w, rss := proc.Medians(r.s)
		med[r.name] = w
		fmt.Printf("%-40s %12s %9.1f MiB\n", r.name, w.Round(10*time.Microsecond), float64(rss)/1024)
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	fmt.Printf("OPA+CUE growth: version %+.2f ms, verify --key %+.2f ms\n",
		ms(med["version, this tree"]-med["version, without OPA+CUE"]),
		ms(med["verify --key, this tree"]-med["verify --key, without OPA+CUE"]))
	fmt.Printf("hallmark verify --key / cosign verify --key: %.2f\n",
		float64(med["verify --key, this tree"])/float64(med["cosign verify --key"]))
	return nil
}

// buildWithout builds cmd/hallmark with pkg/policy's OPA and CUE files
// replaced, and checks that neither is linked.
func buildWithout(repo, dir, out string) error {
	replace := map[string]string{}
	for name, src := range stubs {
		p := filepath.Join(dir, "stub-"+name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			return err
		}
		replace[filepath.Join(repo, "pkg", "policy", name)] = p
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": replace})
	ov := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o644); err != nil {
		return err
	}
	if b, err := exec.Command("go", "build", "-overlay", ov, "-o", out, "./cmd/hallmark").CombinedOutput(); err != nil {
		return fmt.Errorf("building without the policy engines: %v\n%s", err, b)
	}
	deps, err := exec.Command("go", "list", "-overlay", ov, "-deps", "./cmd/hallmark").Output()
	if err != nil {
		return err
	}
	for _, d := range strings.Fields(string(deps)) {
		if strings.HasPrefix(d, "github.com/open-policy-agent/") || strings.HasPrefix(d, "cuelang.org/") || strings.HasPrefix(d, "github.com/cockroachdb/apd") {
			return fmt.Errorf("the build without policy engines still links %s", d)
		}
	}
	return nil
}
