// Command hallmark signs and verifies container images and blobs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"hallmark.dev/hallmark/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
