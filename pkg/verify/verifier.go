package verify

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/trust"
)

// Verifier judges signatures for one authority: a public key, or
// certificates issued by a trusted CA to one of a set of identities.
type Verifier struct {
	// Keyed verification.
	key    crypto.PublicKey
	keyDER []byte
	scheme keys.Scheme

	// Certificate (keyless) verification.
	identities []Identity
	cas        []caPools

	trust *trust.Material

	ignoreTlog       bool // --insecure-ignore-tlog
	ignoreSCT        bool // --insecure-ignore-sct
	signedTimestamps bool // --use-signed-timestamps
	tlogThreshold    int  // distinct logs whose entries must verify
	tsaThreshold     int  // RFC 3161 timestamps that must verify, when they are the time source
	sctThreshold     int  // distinct CT logs whose SCTs must verify
	now              func() time.Time
}

// caPools is a trusted CA with its certificate pools built once, and its
// anchors: intermediates whose chain up to the root was verified when the
// verifier was built (see chain.go).
type caPools struct {
	ca            *trust.CA
	roots, inters *x509.CertPool
	anchors       []anchor
}

// Option configures a Verifier.
type Option func(*Verifier) error

// WithTrust sets what the verifier trusts: transparency logs, CAs, CT logs
// and timestamp authorities (a parsed trusted root).
func WithTrust(m *trust.Material) Option {
	return func(v *Verifier) error {
		if m == nil {
			return errors.New("nil trust material")
		}
		v.trust = m
		return nil
	}
}

// WithoutTlogUnsafe accepts signatures with no verified transparency-log
// entry (cosign's --insecure-ignore-tlog). Keyless signatures then need a
// signed timestamp (WithSignedTimestamps), or are checked at the current
// time, as cosign does.
func WithoutTlogUnsafe() Option {
	return func(v *Verifier) error { v.ignoreTlog = true; return nil }
}

// WithoutSCTUnsafe skips the certificate-transparency check of signing
// certificates (cosign's --insecure-ignore-sct).
func WithoutSCTUnsafe() Option {
	return func(v *Verifier) error { v.ignoreSCT = true; return nil }
}

// WithSignedTimestamps takes the time of signing from RFC 3161 timestamps
// rather than log entries' integrated times (cosign's --use-signed-timestamps).
func WithSignedTimestamps() Option {
	return func(v *Verifier) error { v.signedTimestamps = true; return nil }
}

// WithThresholds requires entries from at least tlog distinct logs and, where
// timestamps are the time source, at least tsa verified timestamps. The
// defaults are sigstore-go's: one of each.
func WithThresholds(tlog, tsa int) Option {
	return func(v *Verifier) error {
		if tlog < 1 || tsa < 1 {
			return fmt.Errorf("thresholds must be at least 1 (got tlog %d, timestamps %d)", tlog, tsa)
		}
		v.tlogThreshold, v.tsaThreshold = tlog, tsa
		return nil
	}
}

// WithClock sets the clock used where cosign uses the current time: the
// time keyless signatures are checked at when the log check is waived and
// no signed timestamp is asked for, and whether a log key's window is open.
func WithClock(now func() time.Time) Option {
	return func(v *Verifier) error { v.now = now; return nil }
}

func newVerifier(opts []Option) (*Verifier, error) {
	v := &Verifier{tlogThreshold: 1, tsaThreshold: 1, sctThreshold: 1, now: time.Now, trust: &trust.Material{}}
	for _, o := range opts {
		if err := o(v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// NewKeyVerifier returns a Verifier trusting the public key pub.
func NewKeyVerifier(pub crypto.PublicKey, opts ...Option) (*Verifier, error) {
	s, err := keys.SchemeFor(pub)
	if err != nil {
		return nil, fmt.Errorf("verification key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("verification key: %w", err)
	}
	v, err := newVerifier(opts)
	if err != nil {
		return nil, err
	}
	v.key, v.keyDER, v.scheme = pub, der, s
	return v, nil
}

// NewCertificateVerifier returns a Verifier for keyless signatures: each must
// carry a certificate that chains to a CA of the trust material at the time
// of signing, has a verified SCT (unless WithoutSCTUnsafe) and names one of
// identities.
func NewCertificateVerifier(identities []Identity, opts ...Option) (*Verifier, error) {
	if len(identities) == 0 {
		return nil, errors.New("keyless verification needs at least one identity (subject and issuer)")
	}
	for i := range identities {
		if err := identities[i].validate(); err != nil {
			return nil, err
		}
	}
	v, err := newVerifier(opts)
	if err != nil {
		return nil, err
	}
	if len(v.trust.CAs) == 0 {
		return nil, errors.New("no certificate authority is trusted: the trusted root lists none")
	}
	if !v.ignoreSCT && len(v.trust.CTLogs) == 0 {
		return nil, errors.New("the trusted root lists no certificate transparency log, so no SCT can verify (--insecure-ignore-sct skips the check)")
	}
	v.identities = identities
	for i := range v.trust.CAs {
		ca := &v.trust.CAs[i]
		p := caPools{ca: ca, roots: x509.NewCertPool(), inters: x509.NewCertPool()}
		p.roots.AddCert(ca.Root)
		for _, c := range ca.Intermediates {
			p.inters.AddCert(c)
		}
		p.anchors = anchors(p)
		v.cas = append(v.cas, p)
	}
	return v, nil
}

// Keyless reports whether v verifies certificates rather than a key.
func (v *Verifier) Keyless() bool { return v.key == nil }

// IgnoresTlog reports whether the log check is waived.
func (v *Verifier) IgnoresTlog() bool { return v.ignoreTlog }

// IgnoresSCT reports whether the SCT check is waived.
func (v *Verifier) IgnoresSCT() bool { return v.ignoreSCT }
