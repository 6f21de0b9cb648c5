package verify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"

	"hallmark.dev/hallmark/internal/hallmarktest/sigstoretest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/sign"
	"hallmark.dev/hallmark/pkg/verify"
)

// --use-signed-timestamps holds for key-signed signatures too: their
// timestamps must verify (cosign refuses a missing or foreign one), though a
// key has no certificate to date.
func TestKeySignedTimestampsAreChecked(t *testing.T) {
	sg := sigstoretest.New(t)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	data := []byte("keyed artifact")
	s, err := sign.New(k, sign.WithTimestamps(sg.TSA(t)))
	if err != nil {
		t.Fatal(err)
	}
	stamped, err := s.SignBlobBundle(t.Context(), verify.BlobData(data))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := sign.New(k)
	unstamped, err := plain.SignBlobBundle(t.Context(), verify.BlobData(data))
	if err != nil {
		t.Fatal(err)
	}
	foreign := cloneBundle(stamped)
	foreign.VerificationMaterial.TimestampVerificationData.Rfc3161Timestamps = []*protocommon.RFC3161SignedTimestamp{
		{SignedTimestamp: sg.Timestamp(t, []byte("another signature"), sigstoretest.Evidence{Timestamp: true})}}

	v := func(opts ...verify.Option) *verify.Verifier {
		v, err := verify.NewKeyVerifier(k.Public(), append([]verify.Option{verify.WithTrust(sg.Material(t)), verify.WithoutTlogUnsafe()}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	required, optional := v(verify.WithSignedTimestamps()), v()
	if _, err := required.VerifyBlobBundle(stamped, verify.BlobData(data)); err != nil {
		t.Errorf("its own timestamp: %v", err)
	}
	for name, b := range map[string]*cosign.Bundle{"no timestamp": unstamped, "another signature's timestamp": foreign} {
		if _, err := required.VerifyBlobBundle(b, verify.BlobData(data)); !errors.Is(err, verify.ErrTimestamp) {
			t.Errorf("%s, timestamps required: got %v, want a timestamp failure", name, err)
		}
		if _, err := optional.VerifyBlobBundle(b, verify.BlobData(data)); err != nil {
			t.Errorf("%s, timestamps not required: %v", name, err)
		}
	}
}
