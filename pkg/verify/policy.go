package verify

import (
	"crypto"
	"fmt"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
)

// Policy is what a signature must satisfy besides verifying under the key.
type Policy struct {
	// Digest is the artifact the caller asked about, as "sha256:<hex>". It
	// comes from the registry or the file, never from the signed payload.
	Digest string
	// Annotations must each be present in the signed payload with this value.
	Annotations map[string]string
	// IgnoreTlogUnsafe accepts signatures with no verified transparency-log
	// entry (cosign's --insecure-ignore-tlog).
	IgnoreTlogUnsafe bool
}

// Verifier checks signatures against one trusted public key.
type Verifier struct {
	key    crypto.PublicKey
	scheme keys.Scheme
	logs   []cosign.TrustedLog
}

// NewKeyVerifier returns a Verifier trusting pub (and, with options, the
// transparency logs whose entries it requires).
func NewKeyVerifier(pub crypto.PublicKey, opts ...Option) (*Verifier, error) {
	s, err := keys.SchemeFor(pub)
	if err != nil {
		return nil, fmt.Errorf("verification key: %w", err)
	}
	v := &Verifier{key: pub, scheme: s}
	for _, o := range opts {
		if err := o(v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Format names the storage format a verified signature came in.
type Format string

const (
	FormatBundle Format = "bundle"
	FormatLegacy Format = "legacy"
)

// Result is a signature that passed every check.
type Result struct {
	Format      Format
	Digest      string         // the verified artifact digest
	Identity    string         // docker-reference of a legacy payload, if any
	Type        string         // simple-signing type or predicate type
	Annotations map[string]any // the signed annotations
	// TlogVerified is false when the log check was waived.
	TlogVerified bool
}

func checkAnnotations(want map[string]string, got map[string]any) error {
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			return mismatch(ErrAnnotations, fmt.Sprintf("annotation %q missing", k), v, "nothing")
		}
		if s, isString := g.(string); !isString || s != v {
			return mismatch(ErrAnnotations, fmt.Sprintf("annotation %q differs", k), v, fmt.Sprint(g))
		}
	}
	return nil
}
