package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"time"

	ct "github.com/google/certificate-transparency-go"
	"golang.org/x/crypto/cryptobyte"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/pki"
)

// RequestError is a request the CA refuses for what it carries: a key it
// will not certify, a proof that does not verify, a malformed CSR (HTTP 400).
type RequestError struct{ Reason string }

func (e *RequestError) Error() string { return e.Reason }

func requestErr(format string, args ...any) error {
	return &RequestError{Reason: fmt.Sprintf(format, args...)}
}

// Config configures a CA.
type Options struct {
	// Signer and Chain are the issuing key and its chain, issuing
	// certificate first and root last.
	Signer crypto.Signer
	Chain  []*x509.Certificate
	// Issuers says which OIDC issuers the CA trusts and how.
	Issuers *Config
	// CT, when set, logs a precertificate and embeds the SCT.
	CT CTLog
	// CTIssuers says which of Chain go to the CT log after the
	// precertificate: all of it (Fulcio's way, for a log whose roots are the
	// CA's root) by default; 0 when the log takes the issuing certificate
	// itself as its root, which saves the log a signature check per entry.
	CTIssuers *int
	// Validity of issued certificates; Fulcio's 10 minutes when 0.
	Validity time.Duration
	Clock    func() time.Time
	// HTTPClient fetches issuers' discovery documents and keys.
	HTTPClient *http.Client
}

// CA issues code-signing certificates for OIDC identities.
type CA struct {
	signer   crypto.Signer
	chain    []*x509.Certificate
	cfg      *Config
	ct       CTLog
	validity time.Duration
	now      func() time.Time
	tokens   *verifiers
	enc      *leafEncoder // nil: crypto/x509 signs
	ctChain  [][]byte     // what follows the precertificate in add-pre-chain
}

// New returns a CA for opts.
func New(opts Options) (*CA, error) {
	if opts.Signer == nil || len(opts.Chain) == 0 {
		return nil, errors.New("ca: no issuing key and chain")
	}
	if opts.Issuers == nil {
		return nil, errors.New("ca: no OIDC issuers configured")
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := opts.Signer.Public().(equaler); !ok || !pk.Equal(opts.Chain[0].PublicKey) {
		return nil, errors.New("ca: the issuing key is not the first certificate's key")
	}
	if !opts.Chain[0].IsCA {
		return nil, errors.New("ca: the issuing certificate is not a CA certificate")
	}
	c := &CA{signer: opts.Signer, chain: opts.Chain, cfg: opts.Issuers, ct: opts.CT, validity: opts.Validity, now: opts.Clock}
	if c.validity <= 0 {
		c.validity = 10 * time.Minute
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.tokens = newVerifiers(c.cfg, c.now, opts.HTTPClient)
	if enc, err := newLeafEncoder(opts.Chain[0], opts.Signer); err == nil {
		c.enc = enc
	}
	n := len(opts.Chain)
	if opts.CTIssuers != nil && *opts.CTIssuers < n {
		n = max(*opts.CTIssuers, 0)
	}
	for _, cert := range opts.Chain[:n] {
		c.ctChain = append(c.ctChain, cert.Raw)
	}
	return c, nil
}

// Chain returns the CA's chain, issuing certificate first and root last.
func (c *CA) Chain() []*x509.Certificate { return c.chain }

// Issuers returns the CA's issuer configuration.
func (c *CA) Issuers() *Config { return c.cfg }

// Request asks for a certificate: an identity token, and either a public
// key with a proof of possession or a PKCS#10 CSR.
type Request struct {
	Token     string
	PublicKey crypto.PublicKey
	Proof     []byte
	CSR       *x509.CertificateRequest
}

// Issued is a certificate (DER) and the CA's chain above it (issuing
// certificate first, root last), with the SCT embedded or, when the CA logs
// nothing, none.
type Issued struct {
	Leaf     []byte
	Chain    []*x509.Certificate
	Embedded bool
}

// Certificate parses the issued certificate.
func (i *Issued) Certificate() (*x509.Certificate, error) { return x509.ParseCertificate(i.Leaf) }

// Issue verifies req and issues its certificate.
func (c *CA) Issue(ctx context.Context, req Request) (*Issued, error) {
	iss, tok, claims, err := c.tokens.verify(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	p, err := c.cfg.principalFor(iss, tok.Issuer, tok.Subject, claims)
	if err != nil {
		return nil, err
	}
	pub := req.PublicKey
	switch {
	case req.CSR != nil:
		if err := req.CSR.CheckSignature(); err != nil {
			return nil, requestErr("the CSR's signature does not verify under its key: %v", err)
		}
		pub = req.CSR.PublicKey
		if err := checkKey(pub); err != nil {
			return nil, err
		}
	case pub != nil:
		if err := checkKey(pub); err != nil {
			return nil, err
		}
		if err := checkProof(pub, req.Proof, p.challenges); err != nil {
			return nil, err
		}
	default:
		return nil, requestErr("the request carries neither a public key nor a CSR")
	}
	// The key's encoding, made once: the key ID, and each certificate (one,
	// or precertificate, log entry and final certificate) carry it.
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, requestErr("the public key cannot be encoded: %v", err)
	}
	tmpl, err := c.template(p, spki)
	if err != nil {
		return nil, err
	}
	if c.ct == nil {
		leaf, err := c.sign(tmpl, pub, spki)
		if err != nil {
			return nil, err
		}
		return &Issued{Leaf: leaf, Chain: c.chain}, nil
	}
	return c.issueWithSCT(ctx, tmpl, pub, spki)
}

var (
	oidCTPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	oidSCTList  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
	asn1NullDER = []byte{0x05, 0x00}
)

// CTError is a failure of the CT log (HTTP 503: nothing was issued).
type CTError struct{ Err error }

func (e *CTError) Error() string { return "logging the precertificate: " + e.Err.Error() }
func (e *CTError) Unwrap() error { return e.Err }

func (c *CA) issueWithSCT(ctx context.Context, tmpl *x509.Certificate, pub crypto.PublicKey, spki []byte) (*Issued, error) {
	pre := *tmpl
	pre.ExtraExtensions = append(append([]pkix.Extension{}, tmpl.ExtraExtensions...), pkix.Extension{Id: oidCTPoison, Critical: true, Value: asn1NullDER})
	precert, err := c.sign(&pre, pub, spki)
	if err != nil {
		return nil, err
	}
	// The log signs the precertificate's TBS without the poison: the final
	// certificate's without the SCT list, which the encoder writes directly.
	var tbs []byte
	if c.enc != nil {
		tbs, err = c.enc.tbs(tmpl, spki)
	} else {
		tbs, err = precertTBS(precert)
	}
	if err != nil {
		return nil, err
	}
	if local, ok := c.ct.(LocalCTLog); ok {
		return c.issueWithLocalSCT(ctx, local, tmpl, pub, spki, precert, tbs)
	}
	sct, err := c.ct.AddPreChain(ctx, append([][]byte{precert}, c.ctChain...))
	if err != nil {
		return nil, &CTError{Err: err}
	}
	if err := checkSCT(c.ct, sct, tbs, c.chain[0], c.now()); err != nil {
		return nil, &CTError{Err: err}
	}
	leaf, err := c.withSCT(tmpl, pub, spki, sct)
	if err != nil {
		return nil, err
	}
	return &Issued{Leaf: leaf, Chain: c.chain, Embedded: true}, nil
}

// issueWithLocalSCT logs the precertificate in the CA's own process. The
// entry is synced on this goroutine while another signs the SCT and the
// final certificate: the sync is the longer, and the goroutine that starts
// on the other CPU starts late. Nothing carrying the SCT leaves before the
// log holds the entry.
func (c *CA) issueWithLocalSCT(ctx context.Context, local LocalCTLog, tmpl *x509.Certificate, pub crypto.PublicKey, spki, precert, tbs []byte) (*Issued, error) {
	sct, durable, err := local.LogPrecert(ctx, precert, tbs, c.chain[0])
	if err != nil {
		return nil, &CTError{Err: err}
	}
	if durable == nil || sct == nil {
		return nil, &CTError{Err: errors.New("the in-process log gave no SCT or no way to wait for its entry")}
	}
	type signed struct {
		leaf []byte
		err  error
	}
	out := make(chan signed, 1)
	go func() {
		s, err := sct()
		if err != nil {
			out <- signed{err: &CTError{Err: err}}
			return
		}
		leaf, err := c.withSCT(tmpl, pub, spki, s)
		out <- signed{leaf, err}
	}()
	derr := durable()
	r := <-out
	if derr != nil {
		return nil, &CTError{Err: derr}
	}
	if r.err != nil {
		return nil, r.err
	}
	return &Issued{Leaf: r.leaf, Chain: c.chain, Embedded: true}, nil
}

// withSCT signs the final certificate, the SCT embedded.
func (c *CA) withSCT(tmpl *x509.Certificate, pub crypto.PublicKey, spki []byte, sct *ct.SignedCertificateTimestamp) ([]byte, error) {
	ext, err := sctListExtension(sct)
	if err != nil {
		return nil, err
	}
	final := *tmpl
	final.ExtraExtensions = append(append([]pkix.Extension{}, tmpl.ExtraExtensions...), ext)
	return c.sign(&final, pub, spki)
}

// sctListExtension wraps one SCT as RFC 6962's embedded SCT list: the SCT
// in its TLS encoding (RFC 6962 §3.2), in a SignedCertificateTimestampList
// (§3.3), in an OCTET STRING. Written directly, once per certificate;
// TestSCTListMatchesCertificateTransparencyGo holds it to what
// certificate-transparency-go's TLS encoder writes.
func sctListExtension(sct *ct.SignedCertificateTimestamp) (pkix.Extension, error) {
	if sct.SCTVersion != ct.V1 || sct.Signature.Algorithm.Hash > 255 || sct.Signature.Algorithm.Signature > 255 {
		return pkix.Extension{}, fmt.Errorf("encoding the SCT: version %d, algorithm %v not as RFC 6962 defines them", sct.SCTVersion, sct.Signature.Algorithm)
	}
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(list *cryptobyte.Builder) {
		list.AddUint16LengthPrefixed(func(s *cryptobyte.Builder) {
			s.AddUint8(uint8(sct.SCTVersion))
			s.AddBytes(sct.LogID.KeyID[:])
			s.AddUint64(sct.Timestamp)
			s.AddUint16LengthPrefixed(func(e *cryptobyte.Builder) { e.AddBytes(sct.Extensions) })
			s.AddUint8(uint8(sct.Signature.Algorithm.Hash))
			s.AddUint8(uint8(sct.Signature.Algorithm.Signature))
			s.AddUint16LengthPrefixed(func(g *cryptobyte.Builder) { g.AddBytes(sct.Signature.Signature) })
		})
	})
	list, err := b.Bytes()
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encoding the SCT list: %w", err)
	}
	var o cryptobyte.Builder
	o.AddASN1OctetString(list)
	val, err := o.Bytes()
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidSCTList, Value: val}, nil
}

// template is Fulcio's leaf profile for p and pub: empty subject, one
// critical SAN, digital signature, code signing, the OIDC extensions.
func (c *CA) template(p *principal, spki []byte) (*x509.Certificate, error) {
	serial, err := pki.SerialNumber()
	if err != nil {
		return nil, err
	}
	skid, err := pki.KeyIDOfSPKI(spki)
	if err != nil {
		return nil, requestErr("the public key cannot be encoded: %v", err)
	}
	exts, err := cosign.MarshalCertExtensions(p.ext, true)
	if err != nil {
		return nil, err
	}
	now := c.now().UTC().Truncate(time.Second)
	t := &x509.Certificate{
		SerialNumber:    serial,
		NotBefore:       now,
		NotAfter:        now.Add(c.validity),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		SubjectKeyId:    skid,
		ExtraExtensions: exts,
	}
	switch {
	case p.email != "":
		t.EmailAddresses = []string{p.email}
	case p.uri != nil:
		t.URIs = []*url.URL{p.uri}
	case p.username != "":
		san, err := cosign.MarshalUsernameSAN(p.username)
		if err != nil {
			return nil, err
		}
		t.ExtraExtensions = append([]pkix.Extension{san}, t.ExtraExtensions...)
	default:
		return nil, errors.New("ca: identity has no subject alternative name")
	}
	if t.NotAfter.After(c.chain[0].NotAfter) {
		return nil, fmt.Errorf("ca: the issuing certificate expires at %s, before a certificate issued now would", c.chain[0].NotAfter)
	}
	return t, nil
}

// sign signs tmpl for pub, whose encoding is spki.
func (c *CA) sign(tmpl *x509.Certificate, pub crypto.PublicKey, spki []byte) ([]byte, error) {
	if c.enc != nil {
		return c.enc.encode(tmpl, spki)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.chain[0], pub, c.signer)
	if err != nil {
		return nil, fmt.Errorf("ca: signing the certificate: %w", err)
	}
	return der, nil
}

// checkKey refuses keys Fulcio refuses: RSA outside 2048–4096 bits or with
// an exponent other than 65537, curves other than P-256/384/521.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return requestErr("the public key is on curve %s; want P-256, P-384 or P-521", k.Curve.Params().Name)
	case *rsa.PublicKey:
		n := k.N.BitLen()
		if n < 2048 || n > 4096 || n%8 != 0 {
			return requestErr("the RSA public key has %d bits; want 2048 to 4096, a multiple of 8", n)
		}
		if k.E != 65537 {
			return requestErr("the RSA public key's exponent is %d; want 65537", k.E)
		}
		if k.N.Bit(0) == 0 || new(big.Int).GCD(nil, nil, k.N, big.NewInt(3*5*7*11*13*17*19*23)).Cmp(big.NewInt(1)) != 0 {
			return requestErr("the RSA public key's modulus has small factors")
		}
		return nil
	case ed25519.PublicKey:
		return nil
	}
	return requestErr("the public key is a %T; want ECDSA, RSA or Ed25519", pub)
}

// checkProof verifies the proof of possession over any acceptable challenge.
func checkProof(pub crypto.PublicKey, proof []byte, challenges []string) error {
	if len(proof) == 0 {
		return requestErr("the request has no proof of possession")
	}
	for _, msg := range challenges {
		var err error
		if k, ok := pub.(ed25519.PublicKey); ok {
			if !ed25519.Verify(k, []byte(msg), proof) {
				err = keys.ErrBadSignature
			}
		} else {
			err = keys.Verify(pub, []byte(msg), proof)
		}
		if err == nil {
			return nil
		}
	}
	return requestErr("the proof of possession does not verify under the public key: it must sign %q", challenges[0])
}
