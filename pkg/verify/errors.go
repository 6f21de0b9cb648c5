package verify

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per verification step, for errors.Is.
var (
	ErrSignature   = errors.New("signature")
	ErrClaims      = errors.New("claims")
	ErrAnnotations = errors.New("annotations")
	ErrTlog        = errors.New("transparency log")
	ErrFormat      = errors.New("format")
	// ErrNoCertificate: keyless verification met a signature without a
	// signing certificate (cosign's exit code 13).
	ErrNoCertificate = errors.New("no certificate")
	ErrCertificate   = errors.New("certificate")
	ErrSCT           = errors.New("certificate transparency")
	ErrIdentity      = errors.New("identity")
	ErrTimestamp     = errors.New("timestamp")
	// ErrPredicateType: a verified attestation of another predicate type
	// than the one asked for (passed over, not a failure).
	ErrPredicateType = errors.New("predicate type")
	// ErrNotAttestation: an image signature offered as an attestation.
	ErrNotAttestation = errors.New("not an attestation")
)

// StepError is a failed verification step. Want and Got are set where a
// value was compared.
type StepError struct {
	Step      error
	Detail    string
	Want, Got string
	Err       error
}

func (e *StepError) Error() string {
	s := fmt.Sprintf("%v: %s", e.Step, e.Detail)
	if e.Want != "" || e.Got != "" {
		s += fmt.Sprintf(" (want %s, got %s)", e.Want, e.Got)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *StepError) Is(target error) bool { return target == e.Step }
func (e *StepError) Unwrap() error        { return e.Err }

func stepErr(step error, detail string, err error) *StepError {
	return &StepError{Step: step, Detail: detail, Err: err}
}

func mismatch(step error, detail, want, got string) *StepError {
	return &StepError{Step: step, Detail: detail, Want: want, Got: got}
}
