// Package collector pauses the garbage collector while a hallmark command
// runs, and, when huge pages are asked for (HALLMARK_HUGEPAGES=1, see
// package startup), has the heap it will grow into mapped ahead on them.
//
// A command runs for tens of milliseconds and allocates a few MiB: a
// collection during initialisation (the heap passes the runtime's first
// 4 MiB goal there) costs ~3 ms, mostly in page faults on the collector's
// own bookkeeping. So the collector waits until the heap reaches 256 MiB
// (a memory limit); servers set their own targets when they start (see
// internal/cli), and GOGC or GOMEMLIMIT in the environment leave the
// runtime's defaults alone.
//
// With the collector paused, startup.MapAhead (when asked for) has the heap
// mapped in one advised piece: once from init, before most packages
// initialise and allocate ~3 MiB, and once from main (MapAhead) for the
// command itself.
// Without it, whether initialisation crossed one of the runtime's 4 MiB
// mapping steps before the advice decided between ~150 and ~900 page faults
// (~13 µs each on the VMs this runs on).
//
// The package must initialise among the first, so it imports only syscall,
// unsafe and package startup: runtime/debug (which imports os, fmt, time)
// would hold its init back until most of the heap is touched. It reaches
// the runtime's setters under the names runtime/debug declares for them,
// which the runtime exports to it by go:linkname. It is imported by
// cmd/hallmark only, so test binaries keep the runtime's collector.
package collector

import (
	"syscall"
	_ "unsafe" // go:linkname

	"hallmark.dev/hallmark/internal/startup"
)

// The runtime's implementations of debug.SetGCPercent and
// debug.SetMemoryLimit.
//
//go:linkname setGCPercent runtime/debug.setGCPercent
func setGCPercent(percent int32) int32

//go:linkname setMemoryLimit runtime/debug.setMemoryLimit
func setMemoryLimit(limit int64) int64

// memoryLimit is the heap at which a paused collector runs after all.
const memoryLimit = 256 << 20

// paused is set by init when it paused the collector.
var paused bool

func init() {
	gogc, _ := syscall.Getenv("GOGC")
	limit, _ := syscall.Getenv("GOMEMLIMIT")
	if gogc != "" || limit != "" {
		return
	}
	setGCPercent(-1)
	setMemoryLimit(memoryLimit)
	paused = true
	startup.MapAhead()
}

// MapAhead maps the heap the command will grow into once every package is
// initialised (startup.MapAhead) when the collector is paused, and otherwise
// advises what is mapped (startup.AdviseHugePages).
func MapAhead() {
	if paused {
		startup.MapAhead()
		return
	}
	startup.AdviseHugePages()
}
