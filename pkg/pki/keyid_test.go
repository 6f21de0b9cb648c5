package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"
)

// TestSubjectKeyIDIsMethodOne: the key ID is RFC 5280's method 1 (SHA-1 of
// the subjectPublicKey bits, as Fulcio makes it; crypto/x509 has used a
// truncated SHA-256 since Go 1.25), read here with encoding/asn1, for every
// key type; what is not a SubjectPublicKeyInfo is refused.
func TestSubjectKeyIDIsMethodOne(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for name, k := range map[string]crypto.Signer{"ECDSA": ec, "RSA": rk, "Ed25519": ed} {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		got, err := SubjectKeyID(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Algorithm pkix.AlgorithmIdentifier
			Key       asn1.BitString
		}
		if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &info); err != nil {
			t.Fatal(err)
		}
		want := sha1.Sum(info.Key.Bytes)
		if !bytes.Equal(got, want[:]) {
			t.Errorf("%s: key ID %x, want %x", name, got, want)
		}
		spki := cert.RawSubjectPublicKeyInfo
		for _, bad := range [][]byte{nil, spki[:len(spki)-1], append(bytes.Clone(spki), 0), {0x30, 0x00}} {
			if _, err := KeyIDOfSPKI(bad); err == nil {
				t.Errorf("%s: malformed %x gave a key ID", name, bad)
			}
		}
	}
}
