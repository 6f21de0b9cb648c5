package sign

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/verify"
)

// Format is the storage format of an image signature.
type Format = verify.Format

// Signer signs images and blobs with one private key.
type Signer struct {
	key      crypto.Signer
	pubPEM   []byte
	hint     string
	verifier *verify.Verifier
	log      LogWriter
}

// LogWriter records entries in a transparency log (a *rekor.Client).
type LogWriter interface {
	Create(ctx context.Context, proposed []byte) (string, *rekor.LogEntry, error)
}

// Option configures a Signer.
type Option func(*Signer)

// WithLog uploads every signature to a transparency log and embeds the
// entry (SET, inclusion proof, checkpoint) in what is stored.
func WithLog(w LogWriter) Option { return func(s *Signer) { s.log = w } }

// New returns a Signer for key.
func New(key crypto.Signer, opts ...Option) (*Signer, error) {
	hint, err := cosign.KeyHint(key.Public())
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	// The self-check judges the signature alone: the log entry, when there
	// is one, is checked by the log client as it is received.
	v, err := verify.NewKeyVerifier(key.Public(), verify.WithoutTlogUnsafe())
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	pubPEM, err := keys.MarshalPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	s := &Signer{key: key, pubPEM: pubPEM, hint: hint, verifier: v}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// logEntry uploads a proposed entry, when a log is configured.
func (s *Signer) logEntry(ctx context.Context, proposed func() ([]byte, error)) (*rekor.LogEntry, error) {
	if s.log == nil {
		return nil, nil
	}
	p, err := proposed()
	if err != nil {
		return nil, err
	}
	_, le, err := s.log.Create(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("uploading to the transparency log: %w", err)
	}
	return le, nil
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
	policy := verify.Policy{Digest: d.DigestStr(), Annotations: stringAnnotations(annotations)}
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
		ann := map[string]string{cosign.SignatureAnnotation: b64}
		digest := sha256.Sum256(payload)
		le, err := s.logEntry(ctx, func() ([]byte, error) { return rekor.NewHashedRekord(digest[:], sig, s.pubPEM) })
		if err != nil {
			return nil, err
		}
		if le != nil {
			rb, err := cosign.MarshalRekorBundle(&cosign.RekorBundle{
				SignedEntryTimestamp: le.Verification.SignedEntryTimestamp,
				Payload:              cosign.RekorBundlePayload{Body: le.Body, IntegratedTime: le.IntegratedTime, LogIndex: le.LogIndex, LogID: le.LogID},
			})
			if err != nil {
				return nil, err
			}
			ann[cosign.LegacyBundleAnnotation] = rb
		}
		if err := c.AppendLegacySignature(ctx, d, payload, ann); err != nil {
			return nil, err
		}
		return &ImageSignature{Format: format, Digest: d, Location: c.LegacyTag(d).String()}, nil
	case verify.FormatBundle:
		algo, hex, _ := strings.Cut(d.DigestStr(), ":")
		statement, err := cosign.NewSignStatement(algo, hex, annotations)
		if err != nil {
			return nil, err
		}
		b, err := s.dsseBundle(ctx, cosign.InTotoPayloadType, statement)
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

func (s *Signer) dsseBundle(ctx context.Context, payloadType string, payload []byte) (*cosign.Bundle, error) {
	sig, err := keys.Sign(s.key, cosign.PAE(payloadType, payload))
	if err != nil {
		return nil, fmt.Errorf("signing envelope: %w", err)
	}
	b := cosign.NewDSSEBundle(payloadType, payload, sig, s.hint)
	le, err := s.logEntry(ctx, func() ([]byte, error) { return rekor.NewDSSE(payloadType, payload, sig, s.pubPEM) })
	if err != nil || le == nil {
		return b, err
	}
	return b, attachEntry(b, le)
}

// attachEntry puts a log entry into a bundle's verification material.
func attachEntry(b *cosign.Bundle, le *rekor.LogEntry) error {
	tle, err := rekor.ToTLE(le)
	if err != nil {
		return fmt.Errorf("log entry: %w", err)
	}
	b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, tle)
	return nil
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
