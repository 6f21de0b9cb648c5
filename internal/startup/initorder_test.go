package startup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Package startup initialises before the libraries whose initialisation
// touches most of the heap, and among the first packages of all: the point
// of the package. Go orders initialisation by import path among packages
// whose imports are done, so this would break if startup imported more
// (see TestImportsOnlyEarlyPackages) or its path sorted later.
func TestInitialisesEarly(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "initorder")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/initorder").CombinedOutput(); err != nil {
		t.Fatalf("building testdata/initorder: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("running it: %v\n%s", err, out)
	}
	pos := map[string]int{}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "init" {
			n++
			if _, seen := pos[f[1]]; !seen {
				pos[f[1]] = n
			}
		}
	}
	me, ok := pos["hallmark.dev/hallmark/internal/startup"]
	if !ok {
		t.Fatalf("no init of package startup in the trace:\n%s", out)
	}
	if me > 30 {
		t.Errorf("package startup initialised %dth of %d; want among the first 30", me, n)
	}
	// os is what every library waits for; startup must not.
	for _, heavy := range []string{"os", "github.com/cockroachdb/apd/v3", "github.com/prometheus/client_golang/prometheus", "google.golang.org/protobuf/types/descriptorpb"} {
		if p, ok := pos[heavy]; ok && p < me {
			t.Errorf("%s initialised (%dth) before package startup (%dth)", heavy, p, me)
		}
	}
}
