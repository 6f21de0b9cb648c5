// Package proc measures commands as whole processes: wall time and peak
// resident memory, and their medians over alternating runs.
package proc

import (
	"fmt"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

// Sample is one run of a command.
type Sample struct {
	Wall   time.Duration
	MaxRSS int64 // KiB
}

// Run runs bin with args in dir under env and measures it; a non-zero exit
// is an error carrying the command's output.
func Run(dir string, env []string, bin string, args ...string) (Sample, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return Sample{}, fmt.Errorf("%s %v: %v\n%s", bin, args, err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return Sample{wall, ru.Maxrss}, nil
}

// Medians returns the median wall time and peak RSS of samples.
func Medians(s []Sample) (time.Duration, int64) {
	w := make([]time.Duration, len(s))
	r := make([]int64, len(s))
	for i, x := range s {
		w[i], r[i] = x.Wall, x.MaxRSS
	}
	slices.Sort(w)
	slices.Sort(r)
	return w[len(w)/2], r[len(r)/2]
}

// Compare runs a and b alternately n times, after one warm-up run each, and
// prints the medians and their ratios.
func Compare(title string, n int, dir string, env []string, a, b []string) error {
	for _, c := range [][]string{a, b} {
		if _, err := Run(dir, env, c[0], c[1:]...); err != nil {
			return err
		}
	}
	var as, bs []Sample
	for range n {
		x, err := Run(dir, env, a[0], a[1:]...)
		if err != nil {
			return err
		}
		y, err := Run(dir, env, b[0], b[1:]...)
		if err != nil {
			return err
		}
		as, bs = append(as, x), append(bs, y)
	}
	aw, ar := Medians(as)
	bw, br := Medians(bs)
	fmt.Printf("%s, %d runs each, alternating\n", title, n)
	fmt.Printf("%-10s %12s %14s\n", "tool", "median wall", "median maxRSS")
	fmt.Printf("%-10s %12s %11.1f MiB\n", "hallmark", aw.Round(10*time.Microsecond), float64(ar)/1024)
	fmt.Printf("%-10s %12s %11.1f MiB\n", "cosign", bw.Round(10*time.Microsecond), float64(br)/1024)
	fmt.Printf("ratio hallmark/cosign: wall %.2f, peak memory %.2f\n", float64(aw)/float64(bw), float64(ar)/float64(br))
	return nil
}
