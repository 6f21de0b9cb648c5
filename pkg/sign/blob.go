package sign

import (
	"context"
	"crypto/sha256"
	"fmt"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/verify"
)

// SignBlob signs data and returns the bundle (protobuf-specs JSON) and the
// raw signature.
func (s *Signer) SignBlob(ctx context.Context, data []byte) (bundleJSON, sig []byte, err error) {
	sig, err = keys.Sign(s.key, data)
	if err != nil {
		return nil, nil, fmt.Errorf("signing blob: %w", err)
	}
	sum := sha256.Sum256(data)
	b := cosign.NewMessageBundle(sum[:], sig, s.hint)
	tle, err := s.logEntry(ctx, LogRecord{Signed: data, Sig: sig})
	if err != nil {
		return nil, nil, err
	}
	if tle != nil {
		b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, tle)
	}
	if _, err := s.verifier.VerifyBlobBundle(b, verify.BlobData(data)); err != nil {
		return nil, nil, fmt.Errorf("self-check of new signature failed: %w", err)
	}
	raw, err := cosign.MarshalBundle(b)
	if err != nil {
		return nil, nil, err
	}
	return raw, sig, nil
}
