package startup

import (
	"go/build"
	"testing"
)

// The package must initialise among the first: Go initialises packages in
// import-path order once their imports are done, so any import beyond these
// (fmt, strings, os) would hold its init back until after most of the heap
// has been touched.
func TestImportsOnlyEarlyPackages(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"syscall": true, "unsafe": true}
	for _, imp := range pkg.Imports {
		if !allowed[imp] {
			t.Errorf("package startup imports %q; only %v may be imported", imp, allowed)
		}
	}
}
