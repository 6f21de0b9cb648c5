package sign

import (
	"context"
	"crypto"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/verify"
)

// Format is the storage format of an image signature.
type Format = verify.Format

// Signer signs images and blobs with one private key.
type Signer struct {
	key      crypto.Signer
	hint     string
	verifier *verify.Verifier
}

// New returns a Signer for key.
func New(key crypto.Signer) (*Signer, error) {
	hint, err := cosign.KeyHint(key.Public())
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	v, err := verify.NewKeyVerifier(key.Public())
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return &Signer{key: key, hint: hint, verifier: v}, nil
}

// ImageSignature is what SignImage stored.
type ImageSignature struct {
	Format   Format
	Digest   name.Digest
	Location string // the .sig tag or the referrer manifest digest
}

// SignImage signs the manifest d (whose descriptor is desc) and stores the
// signature in the registry in the given format, keeping existing ones.
func (s *Signer) SignImage(ctx context.Context, c *oci.Client, d name.Digest, desc *v1.Descriptor, format Format, annotations map[string]any) (*ImageSignature, error) {
	policy := verify.Policy{Digest: d.DigestStr(), Annotations: stringAnnotations(annotations), IgnoreTlogUnsafe: true}
	switch format {
	case verify.FormatLegacy:
		payload, err := cosign.NewSimpleSigning(d.Context().Name(), d.DigestStr(), annotations)
		if err != nil {
			return nil, err
		}
		sig, err := keys.Sign(s.key, payload)
		if err != nil {
			return nil, fmt.Errorf("signing payload: %w", err)
		}
		b64 := base64.StdEncoding.EncodeToString(sig)
		if _, err := s.verifier.VerifyLegacy(verify.LegacySignature{Payload: payload, Signature: b64}, policy); err != nil {
			return nil, fmt.Errorf("self-check of new signature failed: %w", err)
		}
		if err := c.AppendLegacySignature(ctx, d, payload, map[string]string{cosign.SignatureAnnotation: b64}); err != nil {
			return nil, err
		}
		return &ImageSignature{Format: format, Digest: d, Location: c.LegacyTag(d).String()}, nil
	case verify.FormatBundle:
		algo, hex, _ := strings.Cut(d.DigestStr(), ":")
		statement, err := cosign.NewSignStatement(algo, hex, annotations)
		if err != nil {
			return nil, err
		}
		b, err := s.dsseBundle(cosign.InTotoPayloadType, statement)
		if err != nil {
			return nil, err
		}
		if _, err := s.verifier.VerifyImageBundle(b, policy); err != nil {
			return nil, fmt.Errorf("self-check of new signature failed: %w", err)
		}
		raw, err := cosign.MarshalBundle(b)
		if err != nil {
			return nil, err
		}
		h, err := c.WriteBundle(ctx, d, desc, raw, cosign.SignPredicateType)
		if err != nil {
			return nil, err
		}
		return &ImageSignature{Format: format, Digest: d, Location: c.SignatureRepository(d).Digest(h.String()).String()}, nil
	}
	return nil, fmt.Errorf("unknown signature format %q", format)
}

func (s *Signer) dsseBundle(payloadType string, payload []byte) (*cosign.Bundle, error) {
	sig, err := keys.Sign(s.key, cosign.PAE(payloadType, payload))
	if err != nil {
		return nil, fmt.Errorf("signing envelope: %w", err)
	}
	return cosign.NewDSSEBundle(payloadType, payload, sig, s.hint), nil
}

func stringAnnotations(a map[string]any) map[string]string {
	out := make(map[string]string, len(a))
	for k, v := range a {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}
