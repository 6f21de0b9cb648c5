package sigstoretest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/url"
	"strings"
	"testing"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"

	"hallmark.dev/hallmark/pkg/cosign"
)

// CertOptions shape a signing certificate. Zero values give a valid
// Fulcio-shaped certificate: ten minutes from a minute ago, code signing,
// issued by the instance's intermediate, with an SCT from its CT log.
type CertOptions struct {
	Subject string // an e-mail, or a URI when it contains "://"
	Issuer  string // OIDC issuer, in the .8 extension
	// LegacyIssuer also writes the issuer in the deprecated .1 extension.
	LegacyIssuer bool
	Extensions   cosign.CertExtensions

	NotBefore time.Time     // default: a minute ago
	Validity  time.Duration // default: ten minutes

	NoEKU, ServerAuthEKU bool
	// IsCA marks the leaf a CA certificate.
	IsCA  bool
	NoSCT bool
	// SCTKey signs the SCT instead of the instance's CT log (an unknown log).
	SCTKey *ecdsa.PrivateKey
	// CorruptSCT flips a bit of the SCT's signature.
	CorruptSCT bool
	// SCTTime is the SCT's timestamp (default: NotBefore).
	SCTTime time.Time

	// IssuerCert and IssuerKey issue the certificate instead of the
	// instance's intermediate (an untrusted CA).
	IssuerCert *x509.Certificate
	IssuerKey  *ecdsa.PrivateKey
}

// Signer is an ephemeral key and the certificate issued for it.
type Signer struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Issue creates a key and a certificate for it.
func (s *Sigstore) Issue(t testing.TB, o CertOptions) *Signer {
	t.Helper()
	if o.Subject == "" {
		o.Subject = "signer@hallmark.test"
	}
	if o.Issuer == "" {
		o.Issuer = "https://oidc.test.local"
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Minute).Truncate(time.Second)
	}
	if o.Validity == 0 {
		o.Validity = 10 * time.Minute
	}
	if o.SCTTime.IsZero() {
		o.SCTTime = o.NotBefore
	}
	parent, parentKey := s.Intermediate, s.interKey
	if o.IssuerCert != nil {
		parent, parentKey = o.IssuerCert, o.IssuerKey
	}
	key := newKey(t, elliptic.P256())
	o.Extensions.Issuer = o.Issuer
	exts, err := cosign.MarshalCertExtensions(o.Extensions, o.LegacyIssuer)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		NotBefore: o.NotBefore, NotAfter: o.NotBefore.Add(o.Validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	if o.IsCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	}
	switch {
	case o.NoEKU:
		tmpl.ExtKeyUsage = nil
	case o.ServerAuthEKU:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if strings.Contains(o.Subject, "://") {
		u, err := url.Parse(o.Subject)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.EmailAddresses = []string{o.Subject}
	}
	if o.NoSCT {
		tmpl.ExtraExtensions = exts
		return &Signer{Cert: s.create(t, tmpl, parent, &key.PublicKey, parentKey), Key: key}
	}
	// The precertificate flow: issue a poisoned precertificate, have the
	// CT log sign its TBS, then issue the same certificate with the SCT
	// list where the poison was.
	serial := s.serial + 1
	tmpl.ExtraExtensions = append(append([]pkix.Extension{}, exts...), pkix.Extension{Id: oidCTPoison, Critical: true, Value: asn1.NullBytes})
	pre := s.create(t, tmpl, parent, &key.PublicKey, parentKey)
	tbs, err := ctx509.RemoveCTPoison(pre.RawTBSCertificate)
	if err != nil {
		t.Fatal(err)
	}
	sctKey := s.CTKey
	if o.SCTKey != nil {
		sctKey = o.SCTKey
	}
	sct := ct.SignedCertificateTimestamp{
		SCTVersion: ct.V1, Timestamp: uint64(o.SCTTime.UnixMilli()),
		LogID: ct.LogID{KeyID: [32]byte(keyID(t, &sctKey.PublicKey))},
	}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: ct.MerkleTreeLeaf{
		Version: ct.V1, LeafType: ct.TimestampedEntryLeafType,
		TimestampedEntry: &ct.TimestampedEntry{Timestamp: sct.Timestamp, EntryType: ct.PrecertLogEntryType,
			PrecertEntry: &ct.PreCert{IssuerKeyHash: sha256.Sum256(parent.RawSubjectPublicKeyInfo), TBSCertificate: tbs}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := cttls.CreateSignature(*sctKey, cttls.SHA256, input)
	if err != nil {
		t.Fatal(err)
	}
	if o.CorruptSCT {
		ds.Signature[len(ds.Signature)/2] ^= 1
	}
	sct.Signature = ct.DigitallySigned(ds)
	raw, err := cttls.Marshal(sct)
	if err != nil {
		t.Fatal(err)
	}
	list, err := cttls.Marshal(ctx509.SignedCertificateTimestampList{SCTList: []ctx509.SerializedSCT{{Val: raw}}})
	if err != nil {
		t.Fatal(err)
	}
	ext, err := asn1.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.ExtraExtensions = append(append([]pkix.Extension{}, exts...), pkix.Extension{Id: oidSCTList, Value: ext})
	s.serial = serial - 1 // the final certificate keeps the precertificate's serial
	return &Signer{Cert: s.create(t, tmpl, parent, &key.PublicKey, parentKey), Key: key}
}

// UntrustedCA returns a CA certificate and key the trusted root does not
// name, shaped like the instance's intermediate.
func (s *Sigstore) UntrustedCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	k := newKey(t, elliptic.P384())
	root := s.ca(t, "untrusted-root", nil, nil, k, -1)
	ik := newKey(t, elliptic.P384())
	return s.ca(t, "untrusted-intermediate", root, k, ik, 0), ik
}

var (
	oidCTPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	oidSCTList  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
)
