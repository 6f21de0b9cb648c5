package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest/sigstoretest"
	"hallmark.dev/hallmark/pkg/verify"
)

// timestamper is a TSA in memory.
type timestamper func(sig []byte) []byte

func (f timestamper) Timestamp(_ context.Context, sig []byte) ([]byte, error) { return f(sig), nil }

// otherKeySigner claims one key and signs with another.
type otherKeySigner struct {
	claimed crypto.PublicKey
	signs   crypto.Signer
}

func (s otherKeySigner) Public() crypto.PublicKey { return s.claimed }
func (s otherKeySigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.signs.Sign(r, d, o)
}

// A keyless signer judges each new signature before handing it out: with a
// self-check verifier, against the trusted root (certificate, SCT, timestamp
// and signature together); without one, the signature alone. A signature by
// another key, a certificate for another identity or from a CA the root does
// not name is refused, for blobs and attestations alike.
func TestKeylessSignerJudgesItsSignatures(t *testing.T) {
	sg := sigstoretest.New(t)
	leaf := sg.Issue(t, sigstoretest.CertOptions{Subject: "ci@hallmark.test", Issuer: "https://oidc.test.local"})
	stamps := timestamper(func(sig []byte) []byte { return sg.Timestamp(t, sig, sigstoretest.Evidence{Timestamp: true}) })
	checker := func(m *sigstoretest.Sigstore, subject string) *verify.Verifier {
		v, err := verify.NewCertificateVerifier([]verify.Identity{{Subject: subject, Issuer: "https://oidc.test.local"}},
			verify.WithTrust(m.Material(t)), verify.WithoutTlogUnsafe())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forger := otherKeySigner{claimed: leaf.Key.Public(), signs: stranger}
	for _, c := range []struct {
		name  string
		key   crypto.Signer
		check *verify.Verifier // nil: no self-check verifier
		want  string           // "" accepts
	}{
		{"trusted root", leaf.Key, checker(sg, "ci@hallmark.test"), ""},
		{"key alone", leaf.Key, nil, ""},
		{"signed by another key", forger, checker(sg, "ci@hallmark.test"), "does not verify against the trusted root"},
		{"signed by another key, key alone", forger, nil, "self-check of new"},
		{"another identity", leaf.Key, checker(sg, "someone-else@hallmark.test"), "does not verify against the trusted root"},
		{"untrusted CA", leaf.Key, checker(sigstoretest.New(t), "ci@hallmark.test"), "does not verify against the trusted root"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := []Option{WithCertificate(leaf.Cert, []*x509.Certificate{sg.Intermediate, sg.Root}), WithTimestamps(stamps)}
			if c.check != nil {
				opts = append(opts, WithSelfCheck(c.check))
			}
			s, err := New(c.key, opts...)
			if err != nil {
				t.Fatal(err)
			}
			data := []byte("release artifact\n")
			_, blobErr := s.SignBlobBundle(t.Context(), verify.BlobData(data))
			sum := sha256.Sum256(data)
			statement := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"artifact","digest":{"sha256":"` +
				hex.EncodeToString(sum[:]) + `"}}],"predicateType":"https://example.com/p","predicate":{}}`)
			_, attErr := s.AttestBlob(t.Context(), statement, sum[:], "https://example.com/p")
			for what, err := range map[string]error{"blob": blobErr, "attestation": attErr} {
				switch {
				case c.want == "" && err != nil:
					t.Errorf("%s: %v", what, err)
				case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
					t.Errorf("%s: got %v, want an error containing %q", what, err, c.want)
				}
			}
		})
	}
}
