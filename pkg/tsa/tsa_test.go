package tsa

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/pki"
)

func newAuthority(t *testing.T) *Authority {
	t.Helper()
	key, chain, err := LoadOrCreate(t.TempDir(), "Test")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(key, chain, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func request(t *testing.T, h crypto.Hash, msg []byte, nonce *big.Int, certs bool) []byte {
	t.Helper()
	hh := h.New()
	hh.Write(msg)
	der, err := (&timestamp.Request{HashAlgorithm: h, HashedMessage: hh.Sum(nil), Nonce: nonce, Certificates: certs}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestStampVerifies(t *testing.T) {
	a := newAuthority(t)
	nonce := big.NewInt(424242)
	req, err := ParseDER(request(t, crypto.SHA256, []byte("artifact"), nonce, true))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	resp, err := a.Stamp(req)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := timestamp.ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("artifact"))
	if !bytes.Equal(ts.HashedMessage, sum[:]) || ts.HashAlgorithm != crypto.SHA256 {
		t.Errorf("imprint %x (%v), want %x", ts.HashedMessage, ts.HashAlgorithm, sum)
	}
	if ts.Nonce.Cmp(nonce) != 0 {
		t.Errorf("nonce %v, want %v", ts.Nonce, nonce)
	}
	if !ts.Policy.Equal(DefaultPolicy) {
		t.Errorf("policy %v", ts.Policy)
	}
	if ts.Time.Before(before) || ts.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("time %v is not now", ts.Time)
	}
	if len(ts.Certificates) != 1 || !ts.Certificates[0].Equal(a.Chain()[0]) {
		t.Fatalf("token carries %d certificates, want the signing certificate", len(ts.Certificates))
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.Chain()[len(a.Chain())-1])
	if _, err := ts.Certificates[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
		t.Errorf("signing certificate does not chain to the root for time stamping: %v", err)
	}

	// Without certReq the token names its signer but does not carry it.
	req.Certificates = false
	resp, _ = a.Stamp(req)
	if ts, err := timestamp.ParseResponse(resp); err == nil && len(ts.Certificates) != 0 {
		t.Error("certificate included though not requested")
	}
}

func TestStampRefuses(t *testing.T) {
	a := newAuthority(t)
	sha1sum := sha1.Sum([]byte("x"))
	sum := sha256.Sum256([]byte("x"))
	for name, req := range map[string]*Request{
		"SHA-1":           {Hash: crypto.SHA1, Digest: sha1sum[:]},
		"short digest":    {Hash: crypto.SHA256, Digest: sum[:31]},
		"long digest":     {Hash: crypto.SHA384, Digest: append(sum[:], sum[:]...)},
		"other policy":    {Hash: crypto.SHA256, Digest: sum[:], Policy: asn1.ObjectIdentifier{1, 2, 3}},
		"negative nonce":  {Hash: crypto.SHA256, Digest: sum[:], Nonce: big.NewInt(-1)},
		"oversized nonce": {Hash: crypto.SHA256, Digest: sum[:], Nonce: new(big.Int).Lsh(big.NewInt(1), 200)},
	} {
		_, err := a.Stamp(req)
		var re *RequestError
		if !errors.As(err, &re) {
			t.Errorf("%s: got %v, want a RequestError", name, err)
		}
	}
	// The configured policy itself is fine.
	if _, err := a.Stamp(&Request{Hash: crypto.SHA256, Digest: sum[:], Policy: DefaultPolicy}); err != nil {
		t.Errorf("own policy: %v", err)
	}
}

func TestParseRefuses(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	critical, _ := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:],
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{5, 0}}}}).Marshal()
	for name, der := range map[string][]byte{
		"empty": nil, "garbage": []byte("not DER"), "extension": critical,
		"trailing data": append(request(t, crypto.SHA256, []byte("x"), nil, false), 0),
	} {
		if _, err := ParseDER(der); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	for name, body := range map[string]string{
		"unknown field": `{"artifactHash":"` + b64 + `","hashAlgorithm":"sha256","extra":1}`,
		"bad hash name": `{"artifactHash":"` + b64 + `","hashAlgorithm":"md5"}`,
		"bad base64":    `{"artifactHash":"!!","hashAlgorithm":"sha256"}`,
		"bad nonce":     `{"artifactHash":"` + b64 + `","hashAlgorithm":"sha256","nonce":"x"}`,
		"bad oid":       `{"artifactHash":"` + b64 + `","hashAlgorithm":"sha256","tsaPolicyOID":"a.b"}`,
		"two objects":   `{"artifactHash":"` + b64 + `","hashAlgorithm":"sha256"}{}`,
	} {
		if _, err := ParseJSON([]byte(body)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	req, err := ParseJSON([]byte(`{"artifactHash":"` + b64 + `","hashAlgorithm":"SHA256","nonce":123,"certificates":true,"tsaPolicyOID":"1.3.6.1.4.1.57264.2"}`))
	if err != nil || req.Nonce.Int64() != 123 || !req.Certificates || !req.Policy.Equal(DefaultPolicy) {
		t.Errorf("JSON request: %+v, %v", req, err)
	}
}

func TestNewRefusesLeaf(t *testing.T) {
	dir := t.TempDir()
	key, chain, err := LoadOrCreate(dir, "Test")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := keys.Generate()
	if _, err := New(other, chain, Options{}); err == nil || !strings.Contains(err.Error(), "signing key") {
		t.Errorf("another key: %v", err)
	}
	rootKey, err := pki.ReadKey(dir+"/root/"+pki.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, tmpl := range map[string]*x509.Certificate{
		"no EKU":           {Subject: pkix.Name{CommonName: "x"}},
		"code signing EKU": {Subject: pkix.Name{CommonName: "x"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}},
		"non-critical EKU": {Subject: pkix.Name{CommonName: "x"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}},
	} {
		tmpl.NotBefore, tmpl.NotAfter = time.Now(), time.Now().Add(time.Hour)
		leaf, err := pki.Issue(tmpl, chain[1], key.Public(), rootKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(key, []*x509.Certificate{leaf, chain[1]}, Options{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLoadOrCreateKeeps(t *testing.T) {
	dir := t.TempDir()
	k1, c1, err := LoadOrCreate(dir, "Test")
	if err != nil {
		t.Fatal(err)
	}
	k2, c2, err := LoadOrCreate(dir, "Test")
	if err != nil {
		t.Fatal(err)
	}
	type eq interface{ Equal(crypto.PublicKey) bool }
	if !k1.Public().(eq).Equal(k2.Public()) || len(c1) != len(c2) || !c1[0].Equal(c2[0]) || !c1[1].Equal(c2[1]) {
		t.Error("a second start made another key or chain")
	}
}

func TestStampRefusesOutsideItsCertificate(t *testing.T) {
	key, chain, err := LoadOrCreate(t.TempDir(), "Test")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := New(key, chain, Options{Clock: func() time.Time { return chain[0].NotAfter.Add(time.Hour) }})
	sum := sha256.Sum256([]byte("x"))
	var ue *UnavailableError
	if _, err := a.Stamp(&Request{Hash: crypto.SHA256, Digest: sum[:]}); !errors.As(err, &ue) {
		t.Errorf("stamped with an expired certificate: %v", err)
	}
}
