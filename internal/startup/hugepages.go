package startup

import (
	"syscall"
	"unsafe"
)

const (
	madvHugepage = 14 // MADV_HUGEPAGE: back this range with huge pages when touched
	madvCollapse = 25 // MADV_COLLAPSE (Linux 6.1): make a populated range huge now

	hugePage  = 2 << 20  // the x86-64 and arm64 PMD size
	heapArena = 64 << 20 // the runtime's heap arena on 64-bit Linux (heapArenaBytes)
)

func init() { AdviseHugePages() }

// probe is where AdviseHugePages allocates to learn where the heap is
// growing; a package variable so the allocation escapes to the heap.
var probe *[64]byte

// AdviseHugePages asks the kernel to back the heap arenas now being filled
// with transparent huge pages: the parts not touched yet become huge when
// first touched (one fault per 2 MiB instead of 512), and the 2 MiB the
// runtime is allocating in now is collapsed into one huge page. Memory the
// runtime maps after the call is not covered, hence the second call from
// main. Best effort: errors (an older kernel, THP "never") change nothing.
func AdviseHugePages() {
	if disabled() {
		return
	}
	probe = new([64]byte)
	p := uintptr(unsafe.Pointer(probe))
	probe = nil
	// The heap grows upwards through contiguous arenas from a random start, and
	// the allocation may sit in an older one: the arenas either side are
	// covered too (madvise skips the parts not mapped).
	madvise(p&^(heapArena-1)-heapArena, 3*heapArena, madvHugepage)
	madvise(p&^(hugePage-1), hugePage, madvCollapse)
}

func madvise(addr, n, advice uintptr) {
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, addr, n, advice)
}

// disabled reports GODEBUG=disablethp=1, read without the strings package
// (importing it would delay this package's init).
func disabled() bool {
	v, _ := syscall.Getenv("GODEBUG")
	const key = "disablethp=1"
	for start := 0; start < len(v); {
		end := start
		for end < len(v) && v[end] != ',' {
			end++
		}
		if v[start:end] == key {
			return true
		}
		start = end + 1
	}
	return false
}
