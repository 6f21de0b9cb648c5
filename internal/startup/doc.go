// Package startup shortens the start of every hallmark process.
//
// On the virtual machines Hallmark is built and run on, a page fault costs
// ~13 µs (measured: 1,024 first touches of 4 KiB pages take 13–16 ms, the
// same 4 MiB as two transparent huge pages 0.3–0.5 ms), and a command's
// start is dominated by them: the ~450 linked packages allocate ~3 MiB while
// they initialise, one fault per fresh heap page. The kernel's transparent
// huge pages are usually enabled only where a program asks for them
// ("madvise"), and the Go runtime no longer asks. AdviseHugePages asks for
// the heap.
//
// The package imports only syscall and unsafe, so Go's initialisation order
// (packages in import-path order, each once its imports are done) runs its
// init among the first twenty packages, before most of the heap is touched.
// The runtime maps its heap in 4 MiB steps, each a fresh mapping the advice
// does not cover; MapAhead, for a process whose collector is paused
// (package collector, which cmd/hallmark imports), has the runtime map the
// next 8 MiB at once and advises it, before the heavy packages initialise
// and again once all have. Servers take the advice back when they start
// (AdviseSmallPages): huge pages are for short commands.
// GODEBUG=disablethp=1, the runtime's own switch, turns it off, and so does a
// machine whose huge pages are switched off ("never"). Linux on amd64 and
// arm64 only; elsewhere it does nothing.
package startup
