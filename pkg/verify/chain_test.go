package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"hallmark.dev/hallmark/pkg/trust"
)

// TestAnchoredChainAgreesWithFullVerification: the anchored chain check
// (one signature, the rest of the chain checked at the signing time) must
// accept exactly what crypto/x509's full verification accepts.
func TestAnchoredChainAgreesWithFullVerification(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	type ca struct {
		notBefore, notAfter time.Time
		maxPath             int // -1: none
		eku                 []x509.ExtKeyUsage
	}
	long := ca{now.Add(-48 * time.Hour), now.Add(48 * time.Hour), -1, nil}
	cases := []struct {
		name      string
		root, mid ca
		at        time.Time
	}{
		{"valid", long, long, now},
		{"root expired at signing time", ca{now.Add(-48 * time.Hour), now.Add(-time.Hour), -1, nil}, long, now},
		{"root not yet valid", ca{now.Add(time.Hour), now.Add(48 * time.Hour), -1, nil}, long, now},
		{"intermediate expired", long, ca{now.Add(-48 * time.Hour), now.Add(-time.Hour), -1, nil}, now},
		{"root allows no intermediate", ca{now.Add(-48 * time.Hour), now.Add(48 * time.Hour), 0, nil}, long, now},
		{"root allows one intermediate", ca{now.Add(-48 * time.Hour), now.Add(48 * time.Hour), 1, nil}, long, now},
		{"intermediate not for code signing", long, ca{now.Add(-48 * time.Hour), now.Add(48 * time.Hour), -1, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, now},
		{"root not for code signing", ca{now.Add(-48 * time.Hour), now.Add(48 * time.Hour), -1, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, long, now},
	}
	serial := int64(0)
	mk := func(tmpl *x509.Certificate, parent *x509.Certificate, pub, priv any) *x509.Certificate {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	caTmpl := func(cn string, c ca) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: c.notBefore, NotAfter: c.notAfter,
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
			MaxPathLen: c.maxPath, MaxPathLenZero: c.maxPath == 0, ExtKeyUsage: c.eku}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			mk2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			root := mk(caTmpl("root", tc.root), nil, &rk.PublicKey, rk)
			mid := mk(caTmpl("intermediate", tc.mid), root, &mk2.PublicKey, rk)
			leaf := mk(&x509.Certificate{NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, EmailAddresses: []string{"a@b"}}, mid, &lk.PublicKey, mk2)
			p := caPools{ca: &trust.CA{Root: root, Intermediates: []*x509.Certificate{mid}}, roots: x509.NewCertPool(), inters: x509.NewCertPool()}
			p.roots.AddCert(root)
			p.inters.AddCert(mid)
			p.anchors = anchors(p)
			_, full := leaf.Verify(x509.VerifyOptions{Roots: p.roots, Intermediates: p.inters, CurrentTime: tc.at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
			anchored := p.verifyAnchored(leaf, tc.at) != nil
			if anchored && full != nil {
				t.Fatalf("anchored check accepted what x509 refuses: %v", full)
			}
			if tc.name == "valid" && (!anchored || len(p.anchors) != 1) {
				t.Fatalf("the anchored check did not decide a plain valid chain (anchors %d)", len(p.anchors))
			}
		})
	}
}

// TestCheckLeaf: the leaf rules on their own (the time check is also made by
// crypto/x509 end to end; this one names want and got).
func TestCheckLeaf(t *testing.T) {
	now := time.Now()
	leaf := func(isCA bool, eku ...x509.ExtKeyUsage) *x509.Certificate {
		return &x509.Certificate{IsCA: isCA, BasicConstraintsValid: isCA, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Minute), ExtKeyUsage: eku}
	}
	if err := checkLeaf(leaf(false, x509.ExtKeyUsageCodeSigning), now); err != nil {
		t.Fatalf("good leaf: %v", err)
	}
	for name, tc := range map[string]struct {
		c  *x509.Certificate
		at time.Time
	}{
		"a CA certificate":      {leaf(true, x509.ExtKeyUsageCodeSigning), now},
		"after NotAfter":        {leaf(false, x509.ExtKeyUsageCodeSigning), now.Add(time.Hour)},
		"before NotBefore":      {leaf(false, x509.ExtKeyUsageCodeSigning), now.Add(-time.Hour)},
		"no extended key usage": {leaf(false), now},
		"server authentication": {leaf(false, x509.ExtKeyUsageServerAuth), now},
	} {
		if err := checkLeaf(tc.c, tc.at); !errors.Is(err, ErrCertificate) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
