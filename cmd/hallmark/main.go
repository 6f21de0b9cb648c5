// Command hallmark signs and verifies container images and blobs.
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"k8s.io/klog/v2"

	"hallmark.dev/hallmark/internal/cli"
)

func main() {
	quietKlog()
	cliGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// quietKlog keeps the informational logging of libraries that use klog
// (Tessera) off the terminal: warnings and errors still reach stderr.
func quietKlog() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "WARNING")
	klog.SetOutput(io.Discard)
}

// cliGC: a command runs for tens of milliseconds and allocates little, so
// the collector stays off until the heap reaches 256 MiB, rather than running
// cycles that end with the process anyway. Servers set their own (see
// internal/cli); GOGC and GOMEMLIMIT override both.
func cliGC() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(256 << 20)
	}
}
