package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/ctutil"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"github.com/google/certificate-transparency-go/x509util"

	ctserver "hallmark.dev/hallmark/internal/server/ct"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/pki"
)

// tamperedLog returns its log's SCTs with something changed.
type tamperedLog struct {
	CTLog
	tamper func(*ct.SignedCertificateTimestamp)
}

func (t tamperedLog) AddPreChain(ctx context.Context, chain [][]byte) (*ct.SignedCertificateTimestamp, error) {
	sct, err := t.CTLog.AddPreChain(ctx, chain)
	if err == nil {
		t.tamper(sct)
	}
	return sct, err
}

// TestEmbeddedSCT issues through a TesseraCT log, remote (HTTP, the SCT
// checked by the CA) and in-process, and checks the embedded SCT with
// certificate-transparency-go; an SCT that does not verify, or names another
// log, stops issuance.
func TestEmbeddedSCT(t *testing.T) {
	chain, caKey, _, err := pki.LoadOrCreateCA(t.TempDir(), pki.CASpec{Organization: "T", CommonName: "T CA", Intermediate: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
	if err != nil {
		t.Fatal(err)
	}
	logKey, _ := keys.Generate()
	l, err := ctserver.Open(context.Background(), ctserver.Config{Dir: t.TempDir(), Signer: logKey, Origin: "t.example/ct", Roots: chain[1:]})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	remote, err := NewCTClient(srv.URL, logKey.Public(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, issuerURL := testToken(t)
	cfg, _ := ParseConfig([]byte(`{"OIDCIssuers":{"` + issuerURL + `":{"ClientID":"sigstore","Type":"email"}}}`))
	other, _ := keys.Generate()
	for name, c := range map[string]struct {
		log  CTLog
		want error
	}{
		"remote":        {remote, nil},
		"in-process":    {l, nil},
		"bad signature": {tamperedLog{remote, func(s *ct.SignedCertificateTimestamp) { s.Signature.Signature[len(s.Signature.Signature)-1] ^= 1 }}, &CTError{}},
		"other log ID":  {tamperedLog{remote, func(s *ct.SignedCertificateTimestamp) { s.LogID.KeyID[0] ^= 1 }}, &CTError{}},
		"other key":     {mustCT(t, srv.URL, other.Public()), &CTError{}},
		"future":        {tamperedLog{remote, func(s *ct.SignedCertificateTimestamp) { s.Timestamp += uint64(time.Hour.Milliseconds()) }}, &CTError{}},
	} {
		ca, err := New(Options{Signer: caKey, Chain: chain, Issuers: cfg, CT: c.log})
		if err != nil {
			t.Fatal(err)
		}
		k, _ := keys.Generate()
		proof, _ := keys.Sign(k, []byte("a@example.com"))
		out, err := ca.Issue(context.Background(), Request{Token: tok, PublicKey: k.Public(), Proof: proof})
		if c.want != nil {
			var ce *CTError
			if !errors.As(err, &ce) {
				t.Errorf("%s: got %v, want a CT error", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !out.Embedded {
			t.Errorf("%s: no SCT embedded", name)
		}
		leaf, err := ctx509.ParseCertificate(out.Leaf)
		if err != nil {
			t.Fatal(err)
		}
		issuer, _ := ctx509.ParseCertificate(chain[0].Raw)
		if len(leaf.SCTList.SCTList) != 1 {
			t.Fatalf("%s: %d SCTs embedded", name, len(leaf.SCTList.SCTList))
		}
		sct, err := x509util.ExtractSCT(&leaf.SCTList.SCTList[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := ctutil.VerifySCT(logKey.Public(), []*ctx509.Certificate{leaf, issuer}, sct, true); err != nil {
			t.Errorf("%s: the embedded SCT does not verify: %v", name, err)
		}
	}
}

func mustCT(t *testing.T, url string, pub crypto.PublicKey) CTLog {
	c, err := NewCTClient(url, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSCTListMatchesCertificateTransparencyGo: the embedded SCT list is
// byte for byte what certificate-transparency-go's TLS encoder writes, and
// an SCT outside RFC 6962's encoding is refused.
func TestSCTListMatchesCertificateTransparencyGo(t *testing.T) {
	sct := &ct.SignedCertificateTimestamp{SCTVersion: ct.V1, Timestamp: 1764547200123,
		Extensions: ct.CTExtensions{0, 0, 5, 0, 0, 0, 1, 2},
		Signature:  ct.DigitallySigned{Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA}, Signature: bytes.Repeat([]byte{0xab}, 71)}}
	for i := range sct.LogID.KeyID {
		sct.LogID.KeyID[i] = byte(i)
	}
	for name, s := range map[string]*ct.SignedCertificateTimestamp{"with extensions": sct, "without": func() *ct.SignedCertificateTimestamp { c := *sct; c.Extensions = nil; return &c }()} {
		raw, err := cttls.Marshal(*s)
		if err != nil {
			t.Fatal(err)
		}
		list, err := cttls.Marshal(ctx509.SignedCertificateTimestampList{SCTList: []ctx509.SerializedSCT{{Val: raw}}})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := asn1.Marshal(list)
		got, err := sctListExtension(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Value, want) || !got.Id.Equal(oidSCTList) || got.Critical {
			t.Errorf("%s: %x (%v), want %x", name, got.Value, got.Id, want)
		}
	}
	bad := *sct
	bad.SCTVersion = 1
	if _, err := sctListExtension(&bad); err == nil {
		t.Error("an SCT of version 1 (v2 in RFC 6962 terms) was encoded")
	}
	bad = *sct
	bad.Signature.Signature = make([]byte, 1<<16)
	if _, err := sctListExtension(&bad); err == nil {
		t.Error("a signature over 65535 bytes was encoded")
	}
}

// unsyncedLog is an in-process log whose sync fails after it gave an SCT.
type unsyncedLog struct {
	*ctserver.Log
	synced chan struct{}
}

func (u unsyncedLog) LogPrecert(ctx context.Context, precert, tbs []byte, issuer *x509.Certificate) (func() (*ct.SignedCertificateTimestamp, error), func() error, error) {
	sct, _, err := u.Log.LogPrecert(ctx, precert, tbs, issuer)
	return sct, func() error { close(u.synced); return errors.New("disk gone") }, err
}

// TestNoCertificateBeforeTheLogHoldsIt: the in-process log's SCT comes
// before its entry is synced; the CA waits for the sync, and one that fails
// issues nothing.
func TestNoCertificateBeforeTheLogHoldsIt(t *testing.T) {
	chain, caKey, _, err := pki.LoadOrCreateCA(t.TempDir(), pki.CASpec{Organization: "T", CommonName: "T CA", Intermediate: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
	if err != nil {
		t.Fatal(err)
	}
	logKey, _ := keys.Generate()
	l, err := ctserver.Open(context.Background(), ctserver.Config{Dir: t.TempDir(), Signer: logKey, Origin: "t.example/ct", Roots: chain[:1]})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	tok, issuerURL := testToken(t)
	cfg, _ := ParseConfig([]byte(`{"OIDCIssuers":{"` + issuerURL + `":{"ClientID":"sigstore","Type":"email"}}}`))
	log := unsyncedLog{l, make(chan struct{})}
	c, err := New(Options{Signer: caKey, Chain: chain, Issuers: cfg, CT: log})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keys.Generate()
	proof, _ := keys.Sign(k, []byte("a@example.com"))
	out, err := c.Issue(context.Background(), Request{Token: tok, PublicKey: k.Public(), Proof: proof})
	var ce *CTError
	if !errors.As(err, &ce) || out != nil {
		t.Fatalf("sync failed: got a certificate: %v, error %v; want none and a CT error", out != nil, err)
	}
	select {
	case <-log.synced:
	default:
		t.Error("the CA did not wait for the sync")
	}
}
