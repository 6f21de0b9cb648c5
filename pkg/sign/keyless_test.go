package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/internal/hallmarktest/sigstoretest"
	"hallmark.dev/hallmark/pkg/attest"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/verify"
)

// otherKeySigner claims one key and signs with another.
type otherKeySigner struct {
	claimed crypto.PublicKey
	signs   crypto.Signer
}

func (s otherKeySigner) Public() crypto.PublicKey { return s.claimed }
func (s otherKeySigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.signs.Sign(r, d, o)
}

// A keyless signer judges each new signature before handing it out or
// storing it: with a self-check verifier, against the trusted root
// (signature, certificate, SCT and timestamp together); without one, the
// signature alone. A signature by another key, a certificate for another
// identity or from a CA the root does not name is refused at that step, by
// every way of signing, and nothing reaches the registry.
func TestKeylessSignerJudgesItsSignatures(t *testing.T) {
	sg := sigstoretest.New(t)
	leaf := sg.Issue(t, sigstoretest.CertOptions{Subject: "ci@hallmark.test", Issuer: "https://oidc.test.local"})
	stamps := sg.TSA(t)
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

	reg := hallmarktest.EmbeddedRegistry(t, "")
	c, err := oci.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	data := []byte("release artifact\n")
	sum := sha256.Sum256(data)
	blobStatement := statement(t, "artifact", hex.EncodeToString(sum[:]))

	for i, tc := range []struct {
		name  string
		key   crypto.Signer
		check *verify.Verifier // nil: no self-check verifier
		step  error            // nil accepts
		say   string
	}{
		{"trusted root", leaf.Key, checker(sg, "ci@hallmark.test"), nil, ""},
		{"key alone", leaf.Key, nil, nil, ""},
		{"signed by another key", forger, checker(sg, "ci@hallmark.test"), verify.ErrSignature, "does not verify against the trusted root"},
		{"signed by another key, key alone", forger, nil, verify.ErrSignature, "self-check of new"},
		{"another identity", leaf.Key, checker(sg, "someone-else@hallmark.test"), verify.ErrIdentity, "does not verify against the trusted root"},
		{"untrusted CA", leaf.Key, checker(sigstoretest.New(t), "ci@hallmark.test"), verify.ErrCertificate, "does not verify against the trusted root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []Option{WithCertificate(leaf.Cert, []*x509.Certificate{sg.Intermediate, sg.Root}), WithTimestamps(stamps)}
			if tc.check != nil {
				opts = append(opts, WithSelfCheck(tc.check))
			}
			s, err := New(tc.key, opts...)
			if err != nil {
				t.Fatal(err)
			}
			d := hallmarktest.PushImage(t, reg.Host, "judged:"+string(rune('a'+i)), tc.name)
			_, desc, err := c.Resolve(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			imageStatement := statement(t, d.Context().Name(), strings.TrimPrefix(d.DigestStr(), "sha256:"))
			results := map[string]error{}
			_, results["blob"] = s.SignBlobBundle(ctx, verify.BlobData(data))
			_, results["blob attestation"] = s.AttestBlob(ctx, blobStatement, sum[:], attest.CycloneDXURI)
			_, results["attestation, bundle"] = s.SignAttestation(ctx, d, verify.FormatBundle, imageStatement, attest.CycloneDXURI)
			_, results["attestation, legacy"] = s.SignAttestation(ctx, d, verify.FormatLegacy, imageStatement, attest.CycloneDXURI)
			_, results["image, bundle"] = s.SignImage(ctx, c, d, desc, verify.FormatBundle, nil)
			_, results["image, legacy"] = s.SignImage(ctx, c, d, desc, verify.FormatLegacy, nil)
			_, results["image attestation, bundle"] = s.AttestImage(ctx, c, d, desc, verify.FormatBundle, imageStatement, attest.CycloneDXURI, false)
			_, results["image attestation, legacy"] = s.AttestImage(ctx, c, d, desc, verify.FormatLegacy, imageStatement, attest.CycloneDXURI, false)
			for what, err := range results {
				say := tc.say
				if what == "image, legacy" && tc.step == verify.ErrSignature {
					say = "self-check of new" // the key judges it before it is logged
				}
				switch {
				case tc.step == nil && err != nil:
					t.Errorf("%s: %v", what, err)
				case tc.step != nil && (!errors.Is(err, tc.step) || !strings.Contains(err.Error(), say)):
					t.Errorf("%s: got %v, want a %q failure saying %q", what, err, tc.step, say)
				}
			}
			stored := storedFor(t, c, d)
			if want := map[bool]int{true: 4, false: 0}[tc.step == nil]; stored != want {
				t.Errorf("%d signatures and attestations stored for the image, want %d", stored, want)
			}
		})
	}
}

// statement is an in-toto statement about one subject.
func statement(t *testing.T, name, sha256hex string) []byte {
	t.Helper()
	st, err := attest.NewStatement(name, sha256hex, attest.CycloneDXURI, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5"}`))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// storedFor counts what the registry holds for d: bundles, .sig and .att layers.
func storedFor(t *testing.T, c *oci.Client, d name.Digest) int {
	t.Helper()
	ctx := t.Context()
	bundles, err := c.Bundles(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	sigs, _, err := c.LegacyLayers(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	atts, _, err := c.AttestationLayers(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return len(bundles) + len(sigs) + len(atts)
}
