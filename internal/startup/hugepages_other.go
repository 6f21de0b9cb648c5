//go:build !linux

package startup

// AdviseHugePages does nothing outside Linux.
func AdviseHugePages() {}
