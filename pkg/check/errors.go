package check

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/verify"
)

// ErrNoSuchImage is wrapped when the image's tag or digest does not exist.
var ErrNoSuchImage = errors.New("no such image")

// NoSignaturesError: the image has nothing attached in either layout.
type NoSignaturesError struct {
	Ref       name.Reference
	Digest    name.Digest
	LegacyTag name.Tag
}

func (e *NoSignaturesError) Error() string {
	return fmt.Sprintf("no signatures found for %s (%s): looked for bundle referrers and for %s", e.Ref, e.Digest.DigestStr(), e.LegacyTag)
}

// Failure is why one candidate (or one layout's listing) did not verify.
type Failure struct {
	Where string
	Err   error
}

// NoneVerifiedError: signatures were found and none verified. Failures
// holds each candidate's reason.
type NoneVerifiedError struct {
	Ref      name.Reference
	Digest   name.Digest
	Found    int
	Failures []Failure
	// Kind is what was judged: "signatures" (when empty) or "attestations".
	Kind string
	// OtherTypes: attestations that verified but were of another type.
	OtherTypes []string
}

func (e *NoneVerifiedError) Error() string {
	kind := e.Kind
	if kind == "" {
		kind = "signatures"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no matching %s for %s (%s): %d found, none verified:", kind, e.Ref, e.Digest.DigestStr(), e.Found)
	if len(e.OtherTypes) > 0 {
		fmt.Fprintf(&b, "\n  - verified, but of other predicate types: %s", strings.Join(e.OtherTypes, ", "))
	}
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "\n  - %s: %v", f.Where, f.Err)
	}
	return b.String()
}

// Unwrap exposes a registry failure among the reasons, so that "the
// registry failed" is never reported as "unsigned" (errors.As finds the
// *oci.RegistryError).
func (e *NoneVerifiedError) Unwrap() error {
	for _, f := range e.Failures {
		var re *oci.RegistryError
		if errors.As(f.Err, &re) {
			return re
		}
	}
	return nil
}

// NoCertificate reports whether every candidate failed only for lacking a
// signing certificate (keyless verification of key-signed signatures).
func (e *NoneVerifiedError) NoCertificate() bool {
	for _, f := range e.Failures {
		if !errors.Is(f.Err, verify.ErrNoCertificate) {
			return false
		}
	}
	return len(e.Failures) > 0
}
