package collector

import (
	"fmt"
	"go/build"
	"math"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

// The package must initialise among the first (see the package doc): any
// import beyond these would hold its init back.
func TestImportsOnlyEarlyPackages(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"syscall": true, "unsafe": true, "hallmark.dev/hallmark/internal/startup": true}
	for _, imp := range pkg.Imports {
		if !allowed[imp] {
			t.Errorf("package collector imports %q; only %v may be imported", imp, allowed)
		}
	}
}

// childEnv marks a run of this test binary as TestReportSettings' child.
const childEnv = "HALLMARK_COLLECTOR_CHILD"

// TestReportSettings is the child: it prints the collector settings its
// process started with, as init left them.
func TestReportSettings(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("run as a child of TestInitPausesCollector")
	}
	fmt.Printf("gcpercent=%d memlimit=%d paused=%v\n", debug.SetGCPercent(-1), debug.SetMemoryLimit(-1), paused)
}

// Init pauses the collector under a 256 MiB limit, unless the environment
// sets GOGC or GOMEMLIMIT: then the runtime's settings stand.
func TestInitPausesCollector(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, fmt.Sprintf("gcpercent=-1 memlimit=%d paused=true", 256<<20)},
		{[]string{"GOGC=50"}, fmt.Sprintf("gcpercent=50 memlimit=%d paused=false", int64(math.MaxInt64))},
		{[]string{"GOMEMLIMIT=1GiB"}, fmt.Sprintf("gcpercent=100 memlimit=%d paused=false", 1<<30)},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReportSettings$", "-test.v")
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(append(env, childEnv+"=1"), tc.env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child with %v: %v\n%s", tc.env, err, out)
		}
		if !strings.Contains(string(out), tc.want+"\n") {
			t.Errorf("child with %v reported\n%s\nwant the line %q", tc.env, out, tc.want)
		}
	}
}
