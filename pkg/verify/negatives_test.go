package verify_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/proto"

	"hallmark.dev/hallmark/internal/hallmarktest/sigstoretest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/trust"
	"hallmark.dev/hallmark/pkg/verify"
)

// These cases each pin one check that the broader tests reach only behind
// another: every one fails if its check is removed (see the closing note of
// the keyless-verification issue for the mutation run).

func good(t *testing.T, s *sigstoretest.Sigstore) *sigstoretest.Signer {
	return s.Issue(t, sigstoretest.CertOptions{Subject: subject, Issuer: issuer})
}

func TestCertificateNegatives(t *testing.T) {
	s := sigstoretest.New(t)
	m := s.Material(t)
	v := keylessVerifier(t, m, nil)
	now := time.Now()

	// A CA certificate as the signing certificate: Go's chain check allows it.
	ca := s.Issue(t, sigstoretest.CertOptions{Subject: subject, Issuer: issuer, IsCA: true})
	if _, err := v.VerifyBlobBundle(s.BlobBundle(t, ca, blob, sigstoretest.Evidence{}), verify.BlobData(blob)); !errors.Is(err, verify.ErrCertificate) {
		t.Errorf("CA certificate as leaf: %v", err)
	}
	// A proof-only entry dated by a timestamp inside the certificate's
	// validity, whose stated (unsigned) integrated time is outside it.
	sg := good(t, s)
	b := s.BlobBundle(t, sg, blob, sigstoretest.Evidence{NoSET: true, Timestamp: true, IntegratedTime: now.Add(-time.Hour)})
	if _, err := v.VerifyBlobBundle(b, verify.BlobData(blob)); !errors.Is(err, verify.ErrCertificate) {
		t.Errorf("integrated time outside the certificate's validity: %v", err)
	}
	// The chain must hold at every time of signing: here the CA's window
	// closes between the SET's time and the timestamp's.
	s2 := sigstoretest.New(t)
	s2.CAWindow = &trust.Window{Start: s2.Start, End: now.Add(-30 * time.Second)}
	sg2 := s2.Issue(t, sigstoretest.CertOptions{Subject: subject, Issuer: issuer, NotBefore: now.Add(-2 * time.Minute)})
	b = s2.BlobBundle(t, sg2, blob, sigstoretest.Evidence{IntegratedTime: now.Add(-time.Minute), Timestamp: true})
	if _, err := keylessVerifier(t, s2.Material(t), nil).VerifyBlobBundle(b, verify.BlobData(blob)); !errors.Is(err, verify.ErrCertificate) {
		t.Errorf("CA window closed at the timestamp's time: %v", err)
	}
}

func TestIdentityRegexpNegatives(t *testing.T) {
	s := sigstoretest.New(t)
	m := s.Material(t)
	b := s.BlobBundle(t, good(t, s), blob, sigstoretest.Evidence{})
	for name, id := range map[string]verify.Identity{
		"subject regexp": {SubjectRegexp: `^eve@`, Issuer: issuer},
		"issuer regexp":  {Subject: subject, IssuerRegexp: `^https://evil\.`},
	} {
		if _, err := keylessVerifier(t, m, []verify.Identity{id}).VerifyBlobBundle(b, verify.BlobData(blob)); !errors.Is(err, verify.ErrIdentity) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestTimestampNegatives(t *testing.T) {
	s := sigstoretest.New(t)
	m := s.Material(t)
	signed := keylessVerifier(t, m, nil, verify.WithSignedTimestamps())
	cases := map[string]sigstoretest.Evidence{
		"SHA-1 message imprint":                         {TimestampHash: crypto.SHA1},
		"signed by another certificate of the TSA root": {TimestampSigner: s.TSASigner(t, sigstoretest.TSAOptions{})},
	}
	for name, e := range cases {
		e.Timestamp = true
		b := s.BlobBundle(t, good(t, s), blob, e)
		if _, err := signed.VerifyBlobBundle(b, verify.BlobData(blob)); !errors.Is(err, verify.ErrTimestamp) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A trusted root naming only the TSA's root: the signer must chain to
	// it, and be a timestamping-only end-entity certificate.
	s.TSARootOnly = true
	rootOnly := keylessVerifier(t, s.Material(t), nil, verify.WithSignedTimestamps())
	if _, err := rootOnly.VerifyBlobBundle(s.BlobBundle(t, good(t, s), blob, sigstoretest.Evidence{Timestamp: true}), verify.BlobData(blob)); err != nil {
		t.Fatalf("root-only trusted root, good timestamp: %v", err)
	}
	for name, o := range map[string]sigstoretest.TSAOptions{
		"signer from another CA":              {Untrusted: true},
		"signer's EKU not critical":           {NonCriticalEKU: true},
		"signer's EKU not timestamping alone": {ExtraEKU: true},
		"signer is a CA":                      {IsCA: true},
	} {
		b := s.BlobBundle(t, good(t, s), blob, sigstoretest.Evidence{Timestamp: true, TimestampSigner: s.TSASigner(t, o)})
		if _, err := rootOnly.VerifyBlobBundle(b, verify.BlobData(blob)); !errors.Is(err, verify.ErrTimestamp) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Two timestamps from one TSA are one time source.
	two, _ := verify.NewCertificateVerifier([]verify.Identity{{Subject: subject, Issuer: issuer}}, verify.WithTrust(m), verify.WithSignedTimestamps(), verify.WithThresholds(1, 2))
	b := s.BlobBundle(t, good(t, s), blob, sigstoretest.Evidence{Timestamp: true, Timestamps: 2})
	if _, err := two.VerifyBlobBundle(b, verify.BlobData(blob)); !errors.Is(err, verify.ErrTimestamp) {
		t.Errorf("two timestamps of one TSA met a threshold of two: %v", err)
	}
}

// TestLogEntryNegatives: entries a (forging) log signs that record
// something else, or break the bundle's rules.
func TestLogEntryNegatives(t *testing.T) {
	s := sigstoretest.New(t)
	v := keylessVerifier(t, s.Material(t), nil)
	sg := good(t, s)
	other := good(t, s)
	sum := sha256.Sum256(blob)
	sig, _ := keys.Sign(sg.Key, blob)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKeyPEM, _ := keys.MarshalPublicKey(otherKey.Public())
	withEntry := func(body []byte) *cosign.Bundle {
		b := s.BlobBundle(t, sg, blob, sigstoretest.Evidence{NoEntry: true})
		b.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{s.Entry(t, body, sigstoretest.Evidence{})}
		return b
	}
	cases := map[string]*cosign.Bundle{
		"entry records another certificate": withEntry(forgedHashedRekord(sum[:], sig, other.CertPEM())),
		"entry records a bare key":          withEntry(forgedHashedRekord(sum[:], sig, otherKeyPEM)),
	}
	good := s.BlobBundle(t, sg, blob, sigstoretest.Evidence{})
	dup := proto.Clone(good).(*cosign.Bundle)
	dup.VerificationMaterial.TlogEntries = append(dup.VerificationMaterial.TlogEntries, dup.VerificationMaterial.TlogEntries[0])
	cases["the same entry twice"] = dup
	// A Rekor v2 entry that carries a SET and no proof, beside a good entry:
	// v2 entries are proven by their proof alone.
	v2 := proto.Clone(good).(*cosign.Bundle)
	v2body := fmt.Appendf(nil, `{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":"SHA2_256","digest":"%s"},"signature":{"content":"%s","verifier":{"keyDetails":"PKIX_ECDSA_P256_SHA_256","x509Certificate":{"rawBytes":"%s"}}}}}}`,
		base64.StdEncoding.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sig), base64.StdEncoding.EncodeToString(sg.Cert.Raw))
	v2entry := s.Entry(t, v2body, sigstoretest.Evidence{NoProof: true})
	v2.VerificationMaterial.TlogEntries = append(v2.VerificationMaterial.TlogEntries, v2entry)
	cases["a Rekor v2 entry without a proof"] = v2
	kv := proto.Clone(good).(*cosign.Bundle)
	kv.VerificationMaterial.TlogEntries[0].KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	cases["kindVersion not the body's"] = kv
	for name, b := range cases {
		if _, err := v.VerifyBlobBundle(b, verify.BlobData(blob)); !errors.Is(err, verify.ErrTlog) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// DSSE: an entry recording another payload, or this signature by
	// another signer.
	st, _ := cosign.NewSignStatement("sha256", sha256hex(blob), nil)
	dsse := s.DSSEBundle(t, sg, st, sigstoretest.Evidence{})
	env := dsse.GetDsseEnvelope()
	otherSt, _ := cosign.NewSignStatement("sha256", sha256hex([]byte("x")), nil)
	for name, body := range map[string][]byte{
		"dsse entry records another payload": forgedDSSE(otherSt, env.Signatures[0].Sig, sg.CertPEM()),
		"dsse entry records another signer":  forgedDSSE(env.Payload, env.Signatures[0].Sig, other.CertPEM()),
	} {
		b := proto.Clone(dsse).(*cosign.Bundle)
		b.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{s.Entry(t, body, sigstoretest.Evidence{})}
		if _, err := v.VerifyBlobBundle(b, verify.BlobData(blob)); !errors.Is(err, verify.ErrTlog) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// A key verifier: an entry recording a certificate of another key.
	keyed, _ := verify.NewKeyVerifier(&sg.Key.PublicKey, verify.WithTrust(s.Material(t)))
	kb := cosign.NewMessageBundle(sum[:], sig, "")
	kb.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{s.Entry(t, forgedHashedRekord(sum[:], sig, other.CertPEM()), sigstoretest.Evidence{})}
	if _, err := keyed.VerifyBlobBundle(kb, verify.BlobData(blob)); !errors.Is(err, verify.ErrTlog) {
		t.Errorf("key verifier, entry records another key's certificate: %v", err)
	}
}

func TestMessageDigestAlgorithm(t *testing.T) {
	s := sigstoretest.New(t)
	v := keylessVerifier(t, s.Material(t), nil)
	b := s.BlobBundle(t, good(t, s), blob, sigstoretest.Evidence{})
	// Relabelled: the SHA-256 digest called SHA-384 is not the blob's SHA-384.
	b.GetMessageSignature().GetMessageDigest().Algorithm = 2 // SHA2_384
	if _, err := v.VerifyBlobBundle(b, verify.BlobData(blob)); !errors.Is(err, verify.ErrClaims) {
		t.Errorf("SHA-256 digest labelled SHA-384: %v", err)
	}
	// An algorithm no key signs with is refused as such.
	b.GetMessageSignature().GetMessageDigest().Algorithm = 4 // SHA3_256
	if _, err := v.VerifyBlobBundle(b, verify.BlobData(blob)); !errors.Is(err, verify.ErrFormat) {
		t.Errorf("messageDigest said SHA3-256: %v", err)
	}
}

// forgedHashedRekord is the canonical hashedrekord 0.0.1 body a log would
// store for sig over digest by pubPEM, whether or not the signature verifies
// (a forging log does not check).
func forgedHashedRekord(digest, sig, pubPEM []byte) []byte {
	return fmt.Appendf(nil, `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"%x"}},"signature":{"content":"%s","publicKey":{"content":"%s"}}}}`,
		digest, base64.StdEncoding.EncodeToString(sig), base64.StdEncoding.EncodeToString(pubPEM))
}

// forgedDSSE is a canonical dsse 0.0.1 body recording sig by verifierPEM
// over payload.
func forgedDSSE(payload, sig, verifierPEM []byte) []byte {
	ph := sha256.Sum256(payload)
	return fmt.Appendf(nil, `{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":"sha256","value":"%x"},"payloadHash":{"algorithm":"sha256","value":"%x"},"signatures":[{"signature":"%s","verifier":"%s"}]}}`,
		ph, ph, base64.StdEncoding.EncodeToString(sig), base64.StdEncoding.EncodeToString(verifierPEM))
}
