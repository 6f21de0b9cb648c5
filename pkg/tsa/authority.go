package tsa

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/digitorus/timestamp"
)

// DefaultPolicy is the TSA policy OID stamped when none is configured, the
// one sigstore's timestamp-authority uses (Sigstore's arc, .2).
var DefaultPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}

// RequestError is a request the authority refuses (HTTP 400).
type RequestError struct{ Reason string }

func (e *RequestError) Error() string { return e.Reason }

func refuse(format string, args ...any) error {
	return &RequestError{Reason: fmt.Sprintf(format, args...)}
}

// Authority issues RFC 3161 time-stamp tokens.
type Authority struct {
	signer   crypto.Signer
	chain    []*x509.Certificate
	policy   asn1.ObjectIdentifier
	now      func() time.Time
	accuracy time.Duration
}

// Options tune an Authority; the zero value is sigstore's defaults.
type Options struct {
	Policy   asn1.ObjectIdentifier // DefaultPolicy when nil
	Clock    func() time.Time      // time.Now when nil
	Accuracy time.Duration         // one second when 0
}

// New returns an authority signing with signer under chain (its leaf first):
// the leaf must be signer's, carry only the time-stamping extended key usage
// and mark it critical (RFC 3161 §2.3).
func New(signer crypto.Signer, chain []*x509.Certificate, opts Options) (*Authority, error) {
	if len(chain) == 0 {
		return nil, errors.New("tsa: no certificate chain")
	}
	if err := checkLeaf(chain[0], signer); err != nil {
		return nil, fmt.Errorf("tsa: signing certificate %s: %w", chain[0].Subject, err)
	}
	a := &Authority{signer: signer, chain: chain, policy: opts.Policy, now: opts.Clock, accuracy: opts.Accuracy}
	if a.policy == nil {
		a.policy = DefaultPolicy
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.accuracy == 0 {
		a.accuracy = time.Second
	}
	return a, nil
}

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

func checkLeaf(leaf *x509.Certificate, signer crypto.Signer) error {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := signer.Public().(equaler); !ok || !pk.Equal(leaf.PublicKey) {
		return errors.New("it does not certify the signing key")
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(leaf.UnknownExtKeyUsage) != 0 {
		return errors.New("its extended key usage must be time stamping alone")
	}
	for _, e := range leaf.Extensions {
		if e.Id.Equal(oidExtKeyUsage) && !e.Critical {
			return errors.New("its extended key usage must be critical")
		}
	}
	return nil
}

// Chain returns the certificate chain, leaf first.
func (a *Authority) Chain() []*x509.Certificate { return a.chain }

// Policy returns the policy OID the authority stamps.
func (a *Authority) Policy() asn1.ObjectIdentifier { return a.policy }

// Request is a parsed time-stamp request.
type Request struct {
	Hash         crypto.Hash
	Digest       []byte
	Nonce        *big.Int
	Certificates bool // include the signing certificate in the token
	Policy       asn1.ObjectIdentifier
}

// ParseDER reads a DER TimeStampReq.
func ParseDER(der []byte) (*Request, error) {
	r, err := timestamp.ParseRequest(der)
	if err != nil {
		return nil, refuse("malformed time-stamp request: %v", err)
	}
	if len(r.Extensions) > 0 {
		return nil, refuse("time-stamp request carries extension %s: this authority accepts none (as timestamp-authority without --allow-custom-extensions)", r.Extensions[0].Id)
	}
	return &Request{Hash: r.HashAlgorithm, Digest: r.HashedMessage, Nonce: r.Nonce, Certificates: r.Certificates, Policy: r.TSAPolicyOID}, nil
}

// Stamp answers req with a DER TimeStampResp holding a granted token.
func (a *Authority) Stamp(req *Request) ([]byte, error) {
	switch req.Hash {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return nil, refuse("unsupported hash algorithm %v in the message imprint: want SHA-256, SHA-384 or SHA-512", req.Hash)
	}
	if len(req.Digest) != req.Hash.Size() {
		return nil, refuse("message imprint is %d bytes, but a %v digest is %d", len(req.Digest), req.Hash, req.Hash.Size())
	}
	if len(req.Policy) > 0 && !req.Policy.Equal(a.policy) {
		return nil, refuse("requested policy %s is not this authority's (%s)", req.Policy, a.policy)
	}
	if req.Nonce != nil && (req.Nonce.Sign() < 0 || req.Nonce.BitLen() > 160) {
		return nil, refuse("nonce must be a non-negative integer of at most 160 bits")
	}
	now := a.now().UTC()
	if leaf := a.chain[0]; now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, &UnavailableError{Reason: fmt.Sprintf("the TSA's signing certificate is valid from %s to %s, not now (%s): its timestamps would not verify",
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), now.Format(time.RFC3339))}
	}
	ts := timestamp.Timestamp{
		HashAlgorithm:     req.Hash,
		HashedMessage:     req.Digest,
		Time:              now,
		Accuracy:          a.accuracy,
		Policy:            a.policy,
		Nonce:             req.Nonce,
		AddTSACertificate: req.Certificates,
	}
	out, err := ts.CreateResponseWithOpts(a.chain[0], a.signer, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing the time-stamp token: %w", err)
	}
	return out, nil
}

// UnavailableError is the authority unable to stamp anything now (HTTP 503).
type UnavailableError struct{ Reason string }

func (e *UnavailableError) Error() string { return e.Reason }
