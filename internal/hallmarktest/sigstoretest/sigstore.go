package sigstoretest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/trust"
)

// Sigstore is the instance. Its windows in the trusted root open an hour
// before New and stay open.
type Sigstore struct {
	Root, Intermediate *x509.Certificate
	rootKey, interKey  *ecdsa.PrivateKey

	CTKey  *ecdsa.PrivateKey // the CT log
	LogKey *ecdsa.PrivateKey // the transparency log (Rekor v1 style)
	LogURL string

	TSARoot, TSALeaf *x509.Certificate
	tsaKey           *ecdsa.PrivateKey

	// Start opens every window in the trusted root.
	Start time.Time
	// Windows, when set, override the trusted root's windows.
	CAWindow, LogWindow, CTWindow, TSAWindow *trust.Window
	// TSARootOnly lists only the TSA's root in the trusted root (not its
	// signing certificate), as some trusted roots do.
	TSARootOnly bool

	serial   int64
	logIndex int64
}

// New creates an instance with fresh keys.
func New(t testing.TB) *Sigstore {
	t.Helper()
	s := &Sigstore{Start: time.Now().Add(-time.Hour).UTC().Truncate(time.Second), LogURL: "https://rekor.test.local"}
	s.rootKey, s.interKey = newKey(t, elliptic.P384()), newKey(t, elliptic.P384())
	s.CTKey, s.LogKey, s.tsaKey = newKey(t, elliptic.P256()), newKey(t, elliptic.P256()), newKey(t, elliptic.P256())
	s.Root = s.ca(t, "hallmark-test-root", nil, nil, s.rootKey, -1)
	s.Intermediate = s.ca(t, "hallmark-test-intermediate", s.Root, s.rootKey, s.interKey, 0)
	s.TSARoot = s.ca(t, "hallmark-test-tsa-root", nil, nil, s.rootKey, -1)
	s.TSALeaf = s.tsaLeaf(t, TSAOptions{}, &s.tsaKey.PublicKey, s.TSARoot, s.rootKey)
	return s
}

// TSAOptions shape a TSA signing certificate; zero values give a valid one.
type TSAOptions struct {
	NonCriticalEKU bool
	ExtraEKU       bool // also serverAuth
	IsCA           bool
	// Untrusted issues it from a CA the trusted root does not name.
	Untrusted bool
}

// TSASigner issues another TSA signing certificate (and key).
func (s *Sigstore) TSASigner(t testing.TB, o TSAOptions) *Signer {
	t.Helper()
	key := newKey(t, elliptic.P256())
	parent, parentKey := s.TSARoot, s.rootKey
	if o.Untrusted {
		parentKey = newKey(t, elliptic.P384())
		parent = s.ca(t, "untrusted-tsa-root", nil, nil, parentKey, -1)
	}
	return &Signer{Cert: s.tsaLeaf(t, o, &key.PublicKey, parent, parentKey), Key: key}
}

func (s *Sigstore) tsaLeaf(t testing.TB, o TSAOptions, pub *ecdsa.PublicKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	ekus := []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}}
	if o.ExtraEKU {
		ekus = append(ekus, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1})
	}
	eku, _ := asn1.Marshal(ekus)
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "hallmark-test-tsa"},
		NotBefore: s.Start.Add(-time.Hour), NotAfter: s.Start.Add(48 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: !o.NonCriticalEKU, Value: eku}},
	}
	if o.IsCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign
	}
	return s.create(t, tmpl, parent, pub, parentKey)
}

func newKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ca makes a CA certificate: self-signed when parent is nil.
func (s *Sigstore) ca(t testing.TB, cn string, parent *x509.Certificate, parentKey, key *ecdsa.PrivateKey, maxPath int) *x509.Certificate {
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: cn, Organization: []string{"hallmark.test"}},
		NotBefore: s.Start.Add(-24 * time.Hour), NotAfter: s.Start.Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, IsCA: true, BasicConstraintsValid: true,
		MaxPathLen: maxPath, MaxPathLenZero: maxPath == 0,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageTimeStamping},
	}
	if parent == nil {
		parent, parentKey = tmpl, key
		tmpl.ExtKeyUsage = nil
	}
	return s.create(t, tmpl, parent, &key.PublicKey, parentKey)
}

func (s *Sigstore) create(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	s.serial++
	tmpl.SerialNumber = big.NewInt(s.serial)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func keyID(t testing.TB, pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return sum[:]
}

// TrustedRoot names the instance's CA, CT log, transparency log and TSA.
func (s *Sigstore) TrustedRoot(t testing.TB) *cosign.TrustedRoot {
	t.Helper()
	open := trust.Window{Start: s.Start}
	win := func(w *trust.Window) *protocommon.TimeRange {
		if w == nil {
			w = &open
		}
		tr := &protocommon.TimeRange{}
		if !w.Start.IsZero() {
			tr.Start = timestamppb.New(w.Start)
		}
		if !w.End.IsZero() {
			tr.End = timestamppb.New(w.End)
		}
		return tr
	}
	logKey := func(k *ecdsa.PrivateKey, url string, w *trust.Window) *prototrustroot.TransparencyLogInstance {
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		return &prototrustroot.TransparencyLogInstance{
			BaseUrl: url, HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
			PublicKey: &protocommon.PublicKey{RawBytes: der, KeyDetails: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256, ValidFor: win(w)},
			LogId:     &protocommon.LogId{KeyId: keyID(t, &k.PublicKey)},
		}
	}
	chain := func(certs ...*x509.Certificate) *protocommon.X509CertificateChain {
		c := &protocommon.X509CertificateChain{}
		for _, x := range certs {
			c.Certificates = append(c.Certificates, &protocommon.X509Certificate{RawBytes: x.Raw})
		}
		return c
	}
	tsaChain := chain(s.TSALeaf, s.TSARoot)
	if s.TSARootOnly {
		tsaChain = chain(s.TSARoot)
	}
	return &cosign.TrustedRoot{
		MediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
		Tlogs:     []*prototrustroot.TransparencyLogInstance{logKey(s.LogKey, s.LogURL, s.LogWindow)},
		Ctlogs:    []*prototrustroot.TransparencyLogInstance{logKey(s.CTKey, "https://ct.test.local", s.CTWindow)},
		CertificateAuthorities: []*prototrustroot.CertificateAuthority{{
			Subject:   &protocommon.DistinguishedName{Organization: "hallmark.test", CommonName: "hallmark-test-root"},
			Uri:       "https://ca.test.local",
			CertChain: chain(s.Intermediate, s.Root), ValidFor: win(s.CAWindow),
		}},
		TimestampAuthorities: []*prototrustroot.CertificateAuthority{{
			Subject:   &protocommon.DistinguishedName{Organization: "hallmark.test", CommonName: "hallmark-test-tsa"},
			Uri:       "https://tsa.test.local",
			CertChain: tsaChain, ValidFor: win(s.TSAWindow),
		}},
	}
}

// WriteTrustedRoot writes the trusted root JSON into dir and returns its path.
func (s *Sigstore) WriteTrustedRoot(t testing.TB, dir string) string {
	t.Helper()
	b, err := cosign.MarshalTrust(s.TrustedRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Material is the trusted root, parsed.
func (s *Sigstore) Material(t testing.TB) *trust.Material {
	t.Helper()
	m, err := trust.FromTrustedRoot(s.TrustedRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
