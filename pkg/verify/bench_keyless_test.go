package verify_test

import (
	"bytes"
	"os"
	"testing"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/trust"
	"hallmark.dev/hallmark/pkg/verify"
)

// A public-good keyless bundle (Fulcio certificate with SCT, Rekor v1 entry
// with SET and inclusion proof) from the conformance suite, verified against
// the public-good trusted root, as `cosign verify-blob` does it.
const (
	benchDir      = "../../internal/conformance/testdata/"
	benchBundle   = benchDir + "bundle-verify/happy-path-v0.3/bundle.sigstore.json"
	benchRoot     = benchDir + "trusted_root-public-good.json"
	benchArtifact = benchDir + "a.txt"
	benchSubject  = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
	benchIssuer   = "https://token.actions.githubusercontent.com"
)

func readBench(b *testing.B) (bundleJSON, rootJSON, artifact []byte) {
	b.Helper()
	var err error
	if bundleJSON, err = os.ReadFile(benchBundle); err != nil {
		b.Fatal(err)
	}
	if rootJSON, err = os.ReadFile(benchRoot); err != nil {
		b.Fatal(err)
	}
	if artifact, err = os.ReadFile(benchArtifact); err != nil {
		b.Fatal(err)
	}
	return
}

// BenchmarkKeylessBundle: parse the bundle and verify it (signature, SET,
// inclusion proof, checkpoint, chain at the integrated time, SCT, identity).
func BenchmarkKeylessBundle(b *testing.B) {
	bundleJSON, rootJSON, artifact := readBench(b)
	tr, err := cosign.ParseTrustedRoot(rootJSON)
	if err != nil {
		b.Fatal(err)
	}
	m, err := trust.FromTrustedRoot(tr)
	if err != nil {
		b.Fatal(err)
	}
	v, err := verify.NewCertificateVerifier([]verify.Identity{{Subject: benchSubject, Issuer: benchIssuer}}, verify.WithTrust(m))
	if err != nil {
		b.Fatal(err)
	}
	blob := verify.BlobData(artifact)
	b.ReportAllocs()
	for b.Loop() {
		bun, err := cosign.ParseBundle(bundleJSON)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.VerifyBlobBundle(bun, blob); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeylessBundleSigstoreGo is the same work by sigstore-go v1.3.0,
// with cosign's options for it (SCT, log entry, integrated time).
func BenchmarkKeylessBundleSigstoreGo(b *testing.B) {
	bundleJSON, rootJSON, artifact := readBench(b)
	tr, err := root.NewTrustedRootFromJSON(rootJSON)
	if err != nil {
		b.Fatal(err)
	}
	v, err := sgverify.NewVerifier(tr, sgverify.WithSignedCertificateTimestamps(1), sgverify.WithTransparencyLog(1), sgverify.WithIntegratedTimestamps(1))
	if err != nil {
		b.Fatal(err)
	}
	id, err := sgverify.NewShortCertificateIdentity(benchIssuer, "", benchSubject, "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var bun sgbundle.Bundle
		if err := bun.UnmarshalJSON(bundleJSON); err != nil {
			b.Fatal(err)
		}
		if _, err := v.Verify(&bun, sgverify.NewPolicy(sgverify.WithArtifact(bytes.NewReader(artifact)), sgverify.WithCertificateIdentity(id))); err != nil {
			b.Fatal(err)
		}
	}
}
