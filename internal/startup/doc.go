// Package startup can shorten the start of a hallmark process where page
// faults are expensive, by backing the heap with transparent huge pages.
// It is off unless HALLMARK_HUGEPAGES=1 asks for it.
//
// On the virtual machine it was built for, a page fault cost ~13 µs
// (1,024 first touches of 4 KiB pages took 13–16 ms, the same 4 MiB as two
// transparent huge pages 0.3–0.5 ms), and a command's start was dominated by
// them: the ~450 linked packages allocate ~3 MiB while they initialise, one
// fault per fresh heap page; there the advice took `hallmark version` from
// 34 to 28 ms. On the later machines (faults of 1–5 µs) it gained at most
// 0.5 ms when commands ran back to back and cost more when they did not: with
// 0.4 s between runs, keyless sign-blob took 27.3 ms at the median and
// 54.3 ms at p90 with the advice, 25.2 and 29.7 ms without, the kernel zeroing
// whole 2 MiB pages of memory the host had taken back. Hence opt-in.
//
// The kernel's transparent huge pages are usually enabled only where a
// program asks for them ("madvise"), and the Go runtime no longer asks.
// AdviseHugePages asks for the heap. The package imports only syscall and
// unsafe, so Go's initialisation order (packages in import-path order, each
// once its imports are done) runs its init among the first twenty packages,
// before most of the heap is touched. The runtime maps its heap in 4 MiB
// steps, each a fresh mapping the advice does not cover; MapAhead, for a
// process whose collector is paused (package collector, which cmd/hallmark
// imports), has the runtime map the next 8 MiB at once and advises it,
// before the heavy packages initialise and again once all have. Servers take
// the advice back when they start (AdviseSmallPages): huge pages are for
// short commands. GODEBUG=disablethp=1, the runtime's own switch, overrides
// the opt-in, and so does a machine whose huge pages are switched off
// ("never"). Linux on amd64 and arm64 only; elsewhere it does nothing.
package startup
