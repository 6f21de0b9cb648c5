//go:build !(linux && (amd64 || arm64))

package startup

// AdviseHugePages does nothing here: only Linux on amd64 and arm64 is covered.
func AdviseHugePages() {}

// AdviseSmallPages does nothing here.
func AdviseSmallPages() {}

// MapAhead does nothing here.
func MapAhead() {}
