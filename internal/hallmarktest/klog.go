package hallmarktest

import (
	"flag"
	"io"
	"sync"

	"k8s.io/klog/v2"
)

var quietOnce sync.Once

// QuietKlog keeps the informational klog lines of libraries under test
// (Tessera) out of test output; errors still reach stderr.
func QuietKlog() {
	quietOnce.Do(func() {
		fs := flag.NewFlagSet("klog", flag.ContinueOnError)
		klog.InitFlags(fs)
		_ = fs.Set("logtostderr", "false")
		_ = fs.Set("stderrthreshold", "ERROR")
		klog.SetOutput(io.Discard)
	})
}
