package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/url"
	"testing"
	"time"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/pki"
)

// TestEncoderMatchesCrypto: for every kind of identity and extension the CA
// issues, under every CA key type, the encoder writes the very TBS crypto/x509
// writes for the same template, and a signature that verifies.
func TestEncoderMatchesCrypto(t *testing.T) {
	ecKey := func(c elliptic.Curve) crypto.Signer { k, _ := ecdsa.GenerateKey(c, rand.Reader); return k }
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ext, _ := cosign.MarshalCertExtensions(cosign.CertExtensions{Issuer: "https://issuer.example", BuildSignerURI: "https://github.com/o/r/.github/workflows/x.yml@refs/heads/main",
		RunnerEnvironment: "github-hosted", TokenSubject: "repo:o/r:ref:refs/heads/main", GithubWorkflowRef: "refs/heads/main"}, true)
	username, _ := cosign.MarshalUsernameSAN("bob!example.com")
	u, _ := url.Parse("https://github.com/o/r/.github/workflows/x.yml@refs/heads/main")
	for caName, caKey := range map[string]crypto.Signer{"P-256": ecKey(elliptic.P256()), "P-384": ecKey(elliptic.P384()), "P-521": ecKey(elliptic.P521()), "RSA": rsaKey, "Ed25519": edKey} {
		issuer, err := pki.Issue(&x509.Certificate{Subject: pkix.Name{CommonName: "CA " + caName, Organization: []string{"T"}}, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().Add(time.Hour * 24), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, caKey.Public(), caKey)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := newLeafEncoder(issuer, caKey)
		if err != nil {
			t.Fatalf("%s: %v", caName, err)
		}
		leafKey, _ := keys.Generate()
		skid, _ := pki.SubjectKeyID(leafKey.Public())
		serial, _ := pki.SerialNumber()
		now := time.Now().UTC().Truncate(time.Second)
		for name, mod := range map[string]func(*x509.Certificate){
			"email": func(c *x509.Certificate) { c.EmailAddresses = []string{"a@example.com"} },
			"uri":   func(c *x509.Certificate) { c.URIs = []*url.URL{u} },
			"username": func(c *x509.Certificate) {
				c.ExtraExtensions = append([]pkix.Extension{username}, c.ExtraExtensions...)
			},
			"precert": func(c *x509.Certificate) {
				c.EmailAddresses = []string{"a@example.com"}
				c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: oidCTPoison, Critical: true, Value: asn1NullDER})
			},
			"after 2049": func(c *x509.Certificate) {
				c.EmailAddresses = []string{"a@example.com"}
				c.NotAfter = time.Date(2051, 1, 1, 0, 0, 0, 0, time.UTC)
			},
		} {
			tmpl := &x509.Certificate{SerialNumber: serial, NotBefore: now, NotAfter: now.Add(10 * time.Minute), KeyUsage: x509.KeyUsageDigitalSignature,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, SubjectKeyId: skid, ExtraExtensions: append([]pkix.Extension{}, ext...)}
			mod(tmpl)
			want, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, leafKey.Public(), caKey)
			if err != nil {
				t.Fatalf("%s/%s: crypto/x509: %v", caName, name, err)
			}
			got, err := enc.encode(tmpl, mustSPKI(t, leafKey.Public()))
			if err != nil {
				t.Fatalf("%s/%s: %v", caName, name, err)
			}
			wc, _ := x509.ParseCertificate(want)
			gc, err := x509.ParseCertificate(got)
			if err != nil {
				t.Fatalf("%s/%s: the encoded certificate does not parse: %v", caName, name, err)
			}
			if !bytes.Equal(gc.RawTBSCertificate, wc.RawTBSCertificate) {
				t.Errorf("%s/%s: TBS differs from crypto/x509's\n got %x\nwant %x", caName, name, gc.RawTBSCertificate, wc.RawTBSCertificate)
			}
			if gc.SignatureAlgorithm != wc.SignatureAlgorithm {
				t.Errorf("%s/%s: signature algorithm %v, want %v", caName, name, gc.SignatureAlgorithm, wc.SignatureAlgorithm)
			}
			if err := gc.CheckSignatureFrom(issuer); err != nil {
				t.Errorf("%s/%s: signature does not verify: %v", caName, name, err)
			}
		}
	}
}

func TestEncoderRefusesNonASCIIEmail(t *testing.T) {
	k, _ := keys.Generate()
	issuer, _ := pki.Issue(&x509.Certificate{Subject: pkix.Name{CommonName: "CA"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}, nil, k.Public(), k)
	enc, _ := newLeafEncoder(issuer, k)
	serial, _ := pki.SerialNumber()
	if _, err := enc.encode(&x509.Certificate{SerialNumber: serial, EmailAddresses: []string{"ü@example.com"}, NotBefore: time.Now(), NotAfter: time.Now()}, mustSPKI(t, k.Public())); err == nil {
		t.Error("a non-ASCII e-mail address was encoded")
	}
}

func mustSPKI(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestAppendOIDMatchesASN1: the encoder's OIDs are encoding/asn1's, and it
// refuses the ones encoding/asn1 refuses.
func TestAppendOIDMatchesASN1(t *testing.T) {
	for _, oid := range []asn1.ObjectIdentifier{
		{1, 3, 6, 1, 4, 1, 57264, 1, 8}, {1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}, {2, 5, 29, 17}, {0, 0}, {1, 39}, {2, 999, 3},
		{1, 2, 840, 113549, 1, 1, 11}, {1, 3, 1 << 30, 127, 128, 16383, 16384},
		{}, {1}, {3, 1}, {1, 40}, {0, 40, 1},
	} {
		want, wantErr := asn1.Marshal(oid)
		got, err := appendOID(nil, oid)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%v: error %v, encoding/asn1's %v", oid, err, wantErr)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%v: %x, want %x", oid, got, want)
		}
	}
	// encoding/asn1 writes negative components as something; they are refused.
	for _, oid := range []asn1.ObjectIdentifier{{1, 2, -1}, {-1, 2}} {
		if _, err := appendOID(nil, oid); err == nil {
			t.Errorf("%v was encoded", oid)
		}
	}
}
