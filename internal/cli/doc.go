// Package cli owns the hallmark command line: cobra commands, flags, wiring of
// the pkg/ libraries, what is printed where, and exit codes. It holds no
// format or trust logic of its own; it imports everything and nothing imports it.
package cli
