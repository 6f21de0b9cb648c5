// Package collector turns the garbage collector off while a command's
// packages initialise: a command runs for tens of milliseconds and allocates
// little, and a collection during initialisation (the heap passes the
// runtime's first 4 MiB goal there) costs ~3 ms, mostly in page faults on the
// collector's own bookkeeping. The heap may grow to 256 MiB before the
// collector runs. Servers set their own targets when they start (see
// internal/cli); GOGC and GOMEMLIMIT override all of it.
//
// It is a package of its own, imported by cmd/hallmark, because
// runtime/debug's imports would make package startup initialise late.
package collector

import (
	"os"
	"runtime/debug"

	"hallmark.dev/hallmark/internal/startup"
)

func init() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(256 << 20)
	}
	// Halfway through initialisation: cover the heap mapped since startup's init.
	startup.AdviseHugePages()
}
