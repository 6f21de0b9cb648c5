package startup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Packages startup and collector initialise before the libraries whose
// initialisation touches most of the heap, and among the first packages of
// all: the point of them. Go orders initialisation by import path among
// packages whose imports are done, so this would break if either imported
// more (see TestImportsOnlyEarlyPackages in each) or its path sorted later.
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
	for _, early := range []string{"hallmark.dev/hallmark/internal/startup", "hallmark.dev/hallmark/internal/startup/collector"} {
		me, ok := pos[early]
		if !ok {
			t.Fatalf("no init of %s in the trace:\n%s", early, out)
		}
		if me > 30 {
			t.Errorf("%s initialised %dth of %d; want among the first 30", early, me, n)
		}
		// os is what every library waits for; these must not.
		for _, heavy := range []string{"os", "github.com/cockroachdb/apd/v3", "github.com/prometheus/client_golang/prometheus", "google.golang.org/protobuf/types/descriptorpb"} {
			if p, ok := pos[heavy]; ok && p < me {
				t.Errorf("%s initialised (%dth) before %s (%dth)", heavy, p, early, me)
			}
		}
	}
}
