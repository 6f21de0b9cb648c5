//go:build linux && (amd64 || arm64)

package startup

import (
	"syscall"
	"unsafe"
)

const (
	madvHugepage   = 14 // MADV_HUGEPAGE: back this range with huge pages when touched
	madvNohugepage = 15 // MADV_NOHUGEPAGE: do not
	madvCollapse   = 25 // MADV_COLLAPSE (Linux 6.1): make a populated range huge now

	hugePage  = 2 << 20  // the PMD size with 4 KiB pages (amd64, arm64)
	heapArena = 64 << 20 // the runtime's heap arena on 64-bit Linux (heapArenaBytes)

	thpSetting = "/sys/kernel/mm/transparent_hugepage/enabled"

	optIn = "HALLMARK_HUGEPAGES" // =1 turns the advice on
)

func init() {
	off = !optedIn() || disabled() || thpNever()
	AdviseHugePages()
}

// off is set once, by init: unless HALLMARK_HUGEPAGES=1 asks for the advice,
// and also with GODEBUG=disablethp=1 or huge pages switched off machine-wide
// ("never"), which MADV_COLLAPSE would otherwise ignore.
var off bool

// optedIn reports HALLMARK_HUGEPAGES=1.
func optedIn() bool {
	v, _ := syscall.Getenv(optIn)
	return v == "1"
}

// probe is where the calls allocate to learn where the heap is growing; a
// package variable so the allocation escapes to the heap.
var probe *[64]byte

// heapWindow returns where the runtime is allocating now (at) and the range
// of heap arenas it is filling: the heap grows upwards through contiguous
// arenas from a random start, and a fresh allocation may sit in an older
// one, so the arenas either side are included (madvise skips the parts not
// mapped).
func heapWindow() (at, start, n uintptr) {
	probe = new([64]byte)
	at = uintptr(unsafe.Pointer(probe))
	probe = nil
	return at, at&^(heapArena-1) - heapArena, 3 * heapArena
}

// AdviseHugePages asks the kernel to back the heap arenas now being filled
// with transparent huge pages: the parts not touched yet become huge when
// first touched (one fault per 2 MiB instead of 512), and the 2 MiB the
// runtime is allocating in now is collapsed into one huge page. Memory the
// runtime maps after the call is not covered, hence the second call from
// main. Best effort: an older kernel changes nothing.
func AdviseHugePages() {
	if off {
		return
	}
	at, start, n := heapWindow()
	madvise(start, n, madvHugepage)
	madvise(at&^(hugePage-1), hugePage, madvCollapse)
}

// ballast is MapAhead's allocation; a package variable so that it escapes.
var ballast []byte

// MapAhead makes the runtime map the heap the process is about to grow into
// now, in one piece, and advises it. The runtime maps its heap in 4 MiB
// steps as allocation reaches them, each a fresh mapping that earlier advice
// does not cover; an allocation one page larger than 4 MiB fits in no step
// already mapped, so the runtime maps 8 MiB at once, places the allocation at
// its start and leaves at least 4 MiB free behind it, which the allocations
// that follow fill. The allocation is never touched (fresh memory needs no
// zeroing): it costs address space, not memory, and is garbage at once.
// Call it only with the collector paused, or the allocation starts a
// collection (internal/startup/collector does).
func MapAhead() {
	if off {
		return
	}
	ballast = make([]byte, 4<<20+8<<10)
	ballast = nil
	AdviseHugePages()
}

// AdviseSmallPages undoes AdviseHugePages for a long-running server: the
// runtime returns idle memory in pieces smaller than a huge page, and the
// kernel's collapsing of what it returned is what made the Go runtime stop
// asking for huge pages (golang/go#61718, #63334, #64332). Pages already
// huge stay so; no new ones are made in the heap.
func AdviseSmallPages() {
	if off {
		return
	}
	_, start, n := heapWindow()
	madvise(start, n, madvNohugepage)
}

func madvise(addr, n, advice uintptr) {
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, addr, n, advice)
}

// disabled reports GODEBUG=disablethp=1 (the last setting wins, as in the
// runtime), read without the strings package (importing it would delay this
// package's init).
func disabled() bool {
	v, _ := syscall.Getenv("GODEBUG")
	const key = "disablethp="
	on := false
	for start := 0; start < len(v); {
		end := start
		for end < len(v) && v[end] != ',' {
			end++
		}
		if kv := v[start:end]; len(kv) > len(key) && kv[:len(key)] == key {
			on = kv[len(key):] == "1"
		}
		start = end + 1
	}
	return on
}

// thpNever reports transparent huge pages switched off on this machine.
func thpNever() bool {
	fd, err := syscall.Open(thpSetting, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	var buf [128]byte
	n, _ := syscall.Read(fd, buf[:])
	return selectsNever(buf[:max(n, 0)])
}

// selectsNever reports a THP setting ("always [madvise] never") whose
// selected value is never.
func selectsNever(setting []byte) bool {
	const never = "[never]"
	for i := 0; i+len(never) <= len(setting); i++ {
		if string(setting[i:i+len(never)]) == never {
			return true
		}
	}
	return false
}
