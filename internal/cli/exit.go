package cli

import (
	"errors"
	"fmt"
)

// Exit codes. 10 to 13 are cosign's; the others are Hallmark's own.
const (
	exitFailure         = 1
	exitNoSignatures    = 10 // the image has no signatures at all
	exitNoSuchTag       = 11 // the tag or digest does not exist
	exitNoMatchingSig   = 12 // signatures exist, none verified
	exitNoCertificate   = 13 // a signature has no certificate (keyless)
	exitRegistryFailure = 14 // the registry failed, throttled or refused
	exitUsage           = 2  // bad flags or arguments
)

// exitError carries an exit code with an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func withCodef(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, errUsage) {
		return exitUsage
	}
	return exitFailure
}
