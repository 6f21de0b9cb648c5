package sign

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

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
	pubPEM   []byte
	hint     string
	verifier *verify.Verifier
	log      LogWriter

	// Keyless signing.
	cert      *x509.Certificate
	chain     []*x509.Certificate
	tsa       []Timestamper
	selfCheck *verify.Verifier
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
	if s.cert != nil {
		if err := s.setupCertificate(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// logEntry logs a signature, when a log is configured (nil otherwise).
func (s *Signer) logEntry(ctx context.Context, r LogRecord) (*protorekor.TransparencyLogEntry, error) {
	if s.log == nil {
		return nil, nil
	}
	r.Pub, r.PubPEM, r.Cert = s.key.Public(), s.pubPEM, s.cert
	return s.log.Log(ctx, r)
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
		ts, tle, err := s.evidence(ctx, sig, LogRecord{Signed: payload, Sig: sig})
		if err != nil {
			return nil, err
		}
		if err := s.legacyKeylessAnnotations(ann, ts); err != nil {
			return nil, err
		}
		if tle != nil {
			rb, err := legacyRekorBundle(tle)
			if err != nil {
				return nil, err
			}
			ann[cosign.LegacyBundleAnnotation] = rb
		}
		if s.selfCheck != nil { // the key judged it before it was logged, above
			if err := s.judge("signature", func(v *verify.Verifier, _ bool) error {
				_, err := v.VerifyLegacy(verify.LegacyFromAnnotations(payload, ann), policy)
				return err
			}); err != nil {
				return nil, err
			}
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
		if err := s.judgeBundle("signature", b, func(v *verify.Verifier, b *cosign.Bundle) error {
			_, err := v.VerifyImageBundle(b, policy)
			return err
		}); err != nil {
			return nil, err
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
	s.material(b)
	ts, tle, err := s.evidence(ctx, sig, LogRecord{Signed: cosign.PAE(payloadType, payload), Sig: sig, PayloadType: payloadType, Payload: payload})
	if err != nil {
		return nil, err
	}
	addTimestamps(b, ts)
	if tle == nil {
		return b, nil
	}
	b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, tle)
	return b, nil
}

// legacyRekorBundle is the .sig layer annotation for a log entry: its SET
// and what the SET signs. Rekor v2 entries have no SET, so the legacy format
// cannot carry them.
func legacyRekorBundle(tle *protorekor.TransparencyLogEntry) (string, error) {
	if tle.GetInclusionPromise() == nil {
		return "", errors.New("the log gave no SET (a Rekor v2 log): the legacy .sig format can only carry a Rekor v1 entry; sign in the bundle format (the default), or use a Rekor v1 log")
	}
	return cosign.MarshalRekorBundle(&cosign.RekorBundle{
		SignedEntryTimestamp: tle.GetInclusionPromise().GetSignedEntryTimestamp(),
		Payload: cosign.RekorBundlePayload{
			Body: base64.StdEncoding.EncodeToString(tle.GetCanonicalizedBody()), IntegratedTime: tle.GetIntegratedTime(),
			LogIndex: tle.GetLogIndex(), LogID: hex.EncodeToString(tle.GetLogId().GetKeyId()),
		},
	})
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
