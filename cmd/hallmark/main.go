// Command hallmark signs and verifies container images and blobs.
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/klog/v2"

	"hallmark.dev/hallmark/internal/cli"
	"hallmark.dev/hallmark/internal/startup/collector"
)

func main() {
	collector.MapAhead() // the heap the command grows into
	quietKlog()
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
