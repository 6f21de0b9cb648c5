//go:build linux && (amd64 || arm64)

package startup

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"unsafe"
)

// vmFlags returns the VmFlags of the mapping holding addr, from /proc/self/smaps.
func vmFlags(t *testing.T, addr uintptr) []string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("SKIP: no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 && strings.Contains(strings.Fields(line)[0], "-") {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.Fields(strings.TrimPrefix(line, "VmFlags:"))
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return nil
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

// thpAvailable skips a test on a machine without transparent huge pages,
// and otherwise switches the advice on (as HALLMARK_HUGEPAGES=1 does) for
// the test.
func thpAvailable(t *testing.T) {
	b, err := os.ReadFile(thpSetting)
	if err != nil || strings.Contains(string(b), "[never]") {
		t.Skipf("SKIP: transparent huge pages unavailable here (%q, %v)", b, err)
	}
	was := off
	t.Cleanup(func() { off = was })
	off = false
}

// Heap memory the runtime maps after the package's init (here, a fresh 8 MiB
// chunk) is marked for huge pages ("hg" in smaps) once AdviseHugePages runs.
func TestAdviseHugePagesMarksHeap(t *testing.T) {
	thpAvailable(t)
	fresh := make([]byte, 8<<20)
	addr := uintptr(unsafe.Pointer(&fresh[len(fresh)/2]))
	AdviseHugePages()
	if f := vmFlags(t, addr); !hasFlag(f, "hg") {
		t.Fatalf("heap mapping at %#x not advised for huge pages: VmFlags %v", addr, f)
	}
	// A server takes it back: no new huge pages in its heap ("nh").
	AdviseSmallPages()
	if f := vmFlags(t, addr); !hasFlag(f, "nh") || hasFlag(f, "hg") {
		t.Fatalf("heap mapping at %#x still advised for huge pages after AdviseSmallPages: VmFlags %v", addr, f)
	}
	runtime.KeepAlive(fresh)
}

// When switched off (the default; GODEBUG=disablethp=1, or THP "never"),
// nothing is advised.
func TestAdviseHugePagesOff(t *testing.T) {
	thpAvailable(t)
	defer func(was bool) { off = was }(off)
	off = true
	fresh := make([]byte, 8<<20)
	addr := uintptr(unsafe.Pointer(&fresh[len(fresh)/2]))
	AdviseHugePages()
	if f := vmFlags(t, addr); hasFlag(f, "hg") {
		t.Fatalf("heap mapping at %#x advised for huge pages while switched off: VmFlags %v", addr, f)
	}
	runtime.KeepAlive(fresh)
}

func TestSelectsNever(t *testing.T) {
	for setting, want := range map[string]bool{
		"always [madvise] never\n": false,
		"[always] madvise never\n": false,
		"always madvise [never]\n": true,
		"":                         false,
	} {
		if got := selectsNever([]byte(setting)); got != want {
			t.Errorf("selectsNever(%q) = %v, want %v", setting, got, want)
		}
	}
}

// The advice is off unless HALLMARK_HUGEPAGES=1 asks for it.
func TestAdviseHugePagesIsOptIn(t *testing.T) {
	// This process decided at init, from its own environment.
	if v, _ := os.LookupEnv(optIn); v != "1" && !off {
		t.Errorf("the advice is on in a process started with %s=%q", optIn, v)
	}
	for _, c := range []struct {
		v    string
		want bool
	}{{"1", true}, {"", false}, {"0", false}, {"true", false}} {
		t.Setenv(optIn, c.v)
		if got := optedIn(); got != c.want {
			t.Errorf("%s=%q: optedIn() = %v, want %v", optIn, c.v, got, c.want)
		}
	}
}

// GODEBUG=disablethp=1, the runtime's switch, leaves new heap memory alone.
func TestAdviseHugePagesHonoursDisablethp(t *testing.T) {
	for _, tc := range []struct {
		godebug string
		want    bool
	}{
		{"disablethp=1", true},
		{"madvdontneed=1,disablethp=1", true},
		{"disablethp=0", false},
		{"disablethp=1,disablethp=0", false}, // the last one wins, as in the runtime
		{"disablethp=0,disablethp=1", true},
		{"xdisablethp=1", false},
		{"disablethp=", false},
		{"", false},
	} {
		t.Setenv("GODEBUG", tc.godebug)
		if got := disabled(); got != tc.want {
			t.Errorf("GODEBUG=%q: disabled() = %v, want %v", tc.godebug, got, tc.want)
		}
	}
}

// After MapAhead, the next 4 MiB of allocations land in memory advised for
// huge pages, though they outgrow what the runtime had mapped (the step
// being filled has less than 4 MiB free): without it, they would spill
// into a fresh 4 MiB mapping that no advice covers.
func TestMapAheadCoversWhatFollows(t *testing.T) {
	thpAvailable(t)
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // MapAhead's precondition
	MapAhead()
	// 16 KiB objects take whole pages each; 250 of them stay within the
	// 4,088 KiB MapAhead leaves free at the least.
	objs := make([]*[16 << 10]byte, 250)
	for i := range objs {
		objs[i] = new([16 << 10]byte)
	}
	for i, o := range objs {
		addr := uintptr(unsafe.Pointer(o))
		if f := vmFlags(t, addr); !hasFlag(f, "hg") {
			t.Fatalf("allocation %d of %d after MapAhead, at %#x, is in a mapping not advised for huge pages: VmFlags %v",
				i+1, len(objs), addr, f)
		}
	}
	runtime.KeepAlive(objs)
}
