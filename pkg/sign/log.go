package sign

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/verify"
)

// LogWriter records signatures in a transparency log.
type LogWriter interface {
	// Log records r and returns the entry as a bundle carries it.
	Log(ctx context.Context, r LogRecord) (*protorekor.TransparencyLogEntry, error)
}

// LogRecord is a signature to log: the exact bytes it signs, by which key,
// and for a DSSE envelope its payload (the bytes signed are then the PAE).
type LogRecord struct {
	Signed []byte
	// Digests of Signed by name ("sha256", "sha384", "sha512"), used
	// instead of hashing Signed; a streamed blob has only these.
	Digests     map[string][]byte
	Sig         []byte
	Pub         crypto.PublicKey
	PubPEM      []byte // the public key, or the certificate when Cert is set
	Cert        *x509.Certificate
	PayloadType string
	Payload     []byte
	// Envelope, when set, is the envelope JSON to log as it is stored (a
	// legacy attestation layer), so that the entry's envelope hash is the
	// layer's.
	Envelope []byte
}

// RekorV1 logs through Rekor's v1 API: hashedrekord 0.0.1 entries over the
// SHA-256 of the signed bytes, dsse 0.0.1 for envelopes. Entries carry a SET
// and an inclusion proof.
func RekorV1(c *rekor.Client) LogWriter { return v1Log{c} }

// RekorV2 logs through Rekor v2's API: hashedrekord 0.0.2 entries over the
// signed bytes hashed as the key's algorithm says (an envelope's PAE for
// DSSE, as sigstore-go verifies them). Entries carry an inclusion proof and
// no SET.
func RekorV2(c *rekor.Client) LogWriter { return v2Log{c} }

type v1Log struct{ c *rekor.Client }

func (l v1Log) Log(ctx context.Context, r LogRecord) (*protorekor.TransparencyLogEntry, error) {
	var (
		proposed []byte
		err      error
	)
	switch {
	case r.Envelope != nil:
		proposed, err = rekor.NewDSSEFromEnvelope(r.Envelope, r.PubPEM)
	case r.PayloadType != "":
		proposed, err = rekor.NewDSSE(r.PayloadType, r.Payload, r.Sig, r.PubPEM)
	default:
		// The digest the signature is over: the key's hash, as cosign logs
		// P-384 (SHA-384), P-521 and Ed25519 (SHA-512) signatures.
		h := crypto.SHA256
		if r.Pub != nil {
			if scheme, err := keys.SchemeFor(r.Pub); err == nil {
				h = scheme.Hash
			}
		}
		sum := r.digest(h)
		if sum == nil {
			return nil, fmt.Errorf("logging a blob known only by other digests: its %s digest is needed", h)
		}
		proposed, err = rekor.NewHashedRekordHash(verify.HashName(h), sum, r.Sig, r.PubPEM)
	}
	if err != nil {
		return nil, err
	}
	_, le, err := l.c.Create(ctx, proposed)
	if err != nil {
		return nil, fmt.Errorf("uploading to the transparency log: %w", err)
	}
	tle, err := rekor.ToTLE(le)
	if err != nil {
		return nil, fmt.Errorf("log entry from %s: %w", l.c.URL(), err)
	}
	return tle, nil
}

type v2Log struct{ c *rekor.Client }

func (l v2Log) Log(ctx context.Context, r LogRecord) (*protorekor.TransparencyLogEntry, error) {
	h, err := rekor.V2Hash(r.Pub)
	if err != nil {
		return nil, err
	}
	d := r.digest(h)
	if d == nil {
		return nil, fmt.Errorf("logging a blob known only by other digests: its %s digest is needed", h)
	}
	var req []byte
	if r.Cert != nil {
		req, err = rekor.NewV2HashedRekordForCert(r.Cert, d, r.Sig)
	} else {
		req, err = rekor.NewV2HashedRekordFor(r.Pub, d, r.Sig)
	}
	if err != nil {
		return nil, err
	}
	tle, err := l.c.CreateV2(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("uploading to the Rekor v2 transparency log: %w", err)
	}
	return tle, nil
}

// digest is the signed bytes' digest under h: the one given, or Signed
// hashed; nil when only other digests are known.
func (r LogRecord) digest(h crypto.Hash) []byte {
	return verify.Blob{Data: r.Signed, Digests: r.Digests}.Digest(verify.HashName(h))
}
