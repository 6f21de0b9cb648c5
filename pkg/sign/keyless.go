package sign

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"google.golang.org/protobuf/proto"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/pki"
	"hallmark.dev/hallmark/pkg/verify"
)

// Timestamper gets an RFC 3161 timestamp over a signature: the DER
// TimeStampResp a bundle carries.
type Timestamper interface {
	Timestamp(ctx context.Context, sig []byte) ([]byte, error)
}

// WithCertificate makes the signer keyless: signatures carry leaf, a
// certificate for the signing key (its chain, issuing CA to root, goes on
// legacy .sig layers as cosign writes it), and log entries record the
// certificate rather than the key.
func WithCertificate(leaf *x509.Certificate, chain []*x509.Certificate) Option {
	return func(s *Signer) { s.cert, s.chain = leaf, chain }
}

// WithTimestamps asks each t for an RFC 3161 timestamp over every signature.
func WithTimestamps(t ...Timestamper) Option { return func(s *Signer) { s.tsa = append(s.tsa, t...) } }

// WithSelfCheck judges every new signature with v before it is stored,
// instead of checking the signature alone: a keyless signer passes a
// verifier built on the trusted root, as cosign verifies after signing.
func WithSelfCheck(v *verify.Verifier) Option { return func(s *Signer) { s.selfCheck = v } }

// setupCertificate checks a keyless signer's certificate against its key.
func (s *Signer) setupCertificate() error {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := s.key.Public().(equaler); !ok || !pk.Equal(s.cert.PublicKey) {
		return errors.New("the signing certificate does not certify the signing key")
	}
	s.pubPEM = pki.EncodeCertificates(s.cert)
	s.hint = ""
	return nil
}

// material is what a bundle says about the signer: the certificate, or the
// key's hint.
func (s *Signer) material(b *cosign.Bundle) {
	if s.cert == nil {
		return
	}
	b.VerificationMaterial.Content = &protobundle.VerificationMaterial_Certificate{
		Certificate: &protocommon.X509Certificate{RawBytes: s.cert.Raw},
	}
}

// timestamp gets a timestamp over sig from each configured TSA.
func (s *Signer) timestamp(ctx context.Context, sig []byte) ([][]byte, error) {
	var out [][]byte
	for _, t := range s.tsa {
		ts, err := t.Timestamp(ctx, sig)
		if err != nil {
			return nil, fmt.Errorf("timestamping the signature: %w", err)
		}
		out = append(out, ts)
	}
	return out, nil
}

// addTimestamps puts RFC 3161 timestamps in a bundle.
func addTimestamps(b *cosign.Bundle, tss [][]byte) {
	if len(tss) == 0 {
		return
	}
	vm := b.VerificationMaterial
	if vm.TimestampVerificationData == nil {
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{}
	}
	for _, ts := range tss {
		vm.TimestampVerificationData.Rfc3161Timestamps = append(vm.TimestampVerificationData.Rfc3161Timestamps,
			&protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
	}
}

// legacyKeylessAnnotations are the .sig layer annotations cosign writes for
// a certificate and a timestamp.
// The legacy layer holds one timestamp, the first.
func (s *Signer) legacyKeylessAnnotations(ann map[string]string, tss [][]byte) error {
	if s.cert != nil {
		ann[cosign.CertificateAnnotation] = string(pki.EncodeCertificates(s.cert))
		if len(s.chain) > 0 {
			ann[cosign.ChainAnnotation] = string(pki.EncodeCertificates(s.chain...))
		}
	}
	if len(tss) > 0 {
		b, err := json.Marshal(cosign.RFC3161Annotation{SignedRFC3161Timestamp: tss[0]})
		if err != nil {
			return err
		}
		ann[cosign.RFC3161TimestampAnnotation] = string(b)
	}
	return nil
}

// Timestamped reports whether every signature gets RFC 3161 timestamps.
func (s *Signer) Timestamped() bool { return len(s.tsa) > 0 }

// Certificate returns the keyless signer's certificate (nil when keyed).
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// judge checks a finished signature once, before it is stored or returned.
// A signer with a self-check verifier has check judge it against the trusted
// root, certificate, log entry and timestamps together (the signature with
// them, so nothing is checked twice); any other signer has check judge the
// signature alone with the signing key (keyed). what names it in the error.
func (s *Signer) judge(what string, check func(v *verify.Verifier, keyed bool) error) error {
	if s.selfCheck != nil {
		if err := check(s.selfCheck, false); err != nil {
			return fmt.Errorf("the new %s does not verify against the trusted root: %w", what, err)
		}
		return nil
	}
	if err := check(s.verifier, true); err != nil {
		return fmt.Errorf("self-check of new %s failed: %w", what, err)
	}
	return nil
}

// judgeBundle is judge for a bundle: the signing key alone judges b as the
// key would have signed it (asKeyed).
func (s *Signer) judgeBundle(what string, b *cosign.Bundle, check func(*verify.Verifier, *cosign.Bundle) error) error {
	return s.judge(what, func(v *verify.Verifier, keyed bool) error {
		if keyed {
			return check(v, s.asKeyed(b))
		}
		return check(v, b)
	})
}

// asKeyed is b as the key alone would have signed it, for the check of a
// signer without a self-check verifier (a keyless signer's certificate is
// judged with the trusted root, when there is one).
func (s *Signer) asKeyed(b *cosign.Bundle) *cosign.Bundle {
	if s.cert == nil {
		return b
	}
	c := proto.Clone(b).(*cosign.Bundle)
	hint, _ := cosign.KeyHint(s.key.Public())
	c.VerificationMaterial.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: hint}}
	return c
}

// evidence gets the timestamps and the log entry for a signature at once:
// they depend only on the signature, and each is a round trip to a service.
func (s *Signer) evidence(ctx context.Context, sig []byte, r LogRecord) ([][]byte, *protorekor.TransparencyLogEntry, error) {
	type tsResult struct {
		ts  [][]byte
		err error
	}
	var tsc chan tsResult
	if len(s.tsa) > 0 {
		tsc = make(chan tsResult, 1)
		go func() { ts, err := s.timestamp(ctx, sig); tsc <- tsResult{ts, err} }()
	}
	tle, logErr := s.logEntry(ctx, r)
	var ts [][]byte
	if tsc != nil {
		res := <-tsc
		if res.err != nil {
			return nil, nil, res.err
		}
		ts = res.ts
	}
	if logErr != nil {
		return nil, nil, logErr
	}
	return ts, tle, nil
}
