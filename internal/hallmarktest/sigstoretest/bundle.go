package sigstoretest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"testing"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/rekor"
)

// CertPEM is the signer's certificate in PEM, as log entries record it.
func (sg *Signer) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sg.Cert.Raw})
}

// material is a v0.3 bundle's verification material: the certificate, the
// entry and the timestamp the evidence options ask for.
func (s *Sigstore) material(t testing.TB, sg *Signer, body, sig []byte, e Evidence) *protobundle.VerificationMaterial {
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: sg.Cert.Raw}},
	}
	if !e.NoEntry {
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{s.Entry(t, body, e)}
	}
	if e.Timestamp {
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{}
		for range max(e.Timestamps, 1) {
			vm.TimestampVerificationData.Rfc3161Timestamps = append(vm.TimestampVerificationData.Rfc3161Timestamps,
				&protocommon.RFC3161SignedTimestamp{SignedTimestamp: s.Timestamp(t, sig, e)})
		}
	}
	return vm
}

// BlobBundle signs data keylessly: a v0.3 message-signature bundle.
func (s *Sigstore) BlobBundle(t testing.TB, sg *Signer, data []byte, e Evidence) *cosign.Bundle {
	t.Helper()
	sum := sha256.Sum256(data)
	sig, err := keys.Sign(sg.Key, data)
	if err != nil {
		t.Fatal(err)
	}
	body, err := canonical(rekor.NewHashedRekord(sum[:], sig, sg.CertPEM()))
	if err != nil {
		t.Fatal(err)
	}
	b := cosign.NewMessageBundle(sum[:], sig, "")
	b.VerificationMaterial = s.material(t, sg, body, sig, e)
	return b
}

// DSSEBundle signs an in-toto statement keylessly: a v0.3 DSSE bundle
// logged as a dsse entry.
func (s *Sigstore) DSSEBundle(t testing.TB, sg *Signer, statement []byte, e Evidence) *cosign.Bundle {
	t.Helper()
	sig, err := keys.Sign(sg.Key, cosign.PAE(cosign.InTotoPayloadType, statement))
	if err != nil {
		t.Fatal(err)
	}
	body, err := canonical(rekor.NewDSSE(cosign.InTotoPayloadType, statement, sig, sg.CertPEM()))
	if err != nil {
		t.Fatal(err)
	}
	b := cosign.NewDSSEBundle(cosign.InTotoPayloadType, statement, sig, "")
	b.VerificationMaterial = s.material(t, sg, body, sig, e)
	return b
}

// ImageBundle signs an image digest ("sha256:<hex>") keylessly, as cosign
// v3 does: a DSSE bundle over the cosign sign statement.
func (s *Sigstore) ImageBundle(t testing.TB, sg *Signer, digest string, ann map[string]any, e Evidence) *cosign.Bundle {
	t.Helper()
	st, err := cosign.NewSignStatement("sha256", digest[len("sha256:"):], ann)
	if err != nil {
		t.Fatal(err)
	}
	return s.DSSEBundle(t, sg, st, e)
}

// LegacySignature signs an image keylessly as cosign v2 did: the
// simple-signing payload and the .sig layer's annotations (signature,
// certificate, chain, Rekor bundle and, when asked, RFC 3161 timestamp).
func (s *Sigstore) LegacySignature(t testing.TB, sg *Signer, repo, digest string, ann map[string]any, e Evidence) ([]byte, map[string]string) {
	t.Helper()
	payload, err := cosign.NewSimpleSigning(repo, digest, ann)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := keys.Sign(sg.Key, payload)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	body, err := canonical(rekor.NewHashedRekord(sum[:], sig, sg.CertPEM()))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{
		cosign.SignatureAnnotation:   base64.StdEncoding.EncodeToString(sig),
		cosign.CertificateAnnotation: string(sg.CertPEM()),
		cosign.ChainAnnotation: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Intermediate.Raw})) +
			string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Root.Raw})),
	}
	if !e.NoEntry {
		tle := s.Entry(t, body, e)
		rb, err := cosign.MarshalRekorBundle(&cosign.RekorBundle{
			SignedEntryTimestamp: tle.GetInclusionPromise().GetSignedEntryTimestamp(),
			Payload: cosign.RekorBundlePayload{
				Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: tle.IntegratedTime,
				LogIndex: tle.LogIndex, LogID: hexID(tle),
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		out[cosign.LegacyBundleAnnotation] = rb
	}
	if e.Timestamp {
		ts, _ := jsonTimestamp(s.Timestamp(t, sig, e))
		out[cosign.RFC3161TimestampAnnotation] = ts
	}
	return payload, out
}

// canonical turns a proposed entry into the body a log stores.
func canonical(proposed []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	e, err := rekor.Parse(proposed)
	if err != nil {
		return nil, err
	}
	return e.Body, nil
}

// CanonicalBody is the body a log stores for a proposed entry, for tests
// that forge entries recording something else.
func CanonicalBody(t testing.TB, proposed []byte) []byte {
	t.Helper()
	b, err := canonical(proposed, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
