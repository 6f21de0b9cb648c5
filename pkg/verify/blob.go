package verify

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"fmt"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
)

// Blob is the artifact a blob signature must cover. Data is the whole blob
// when the caller has it; otherwise SHA256 alone (a "sha256:<hex>" input).
type Blob struct {
	Data   []byte
	SHA256 []byte
}

// VerifyBlobBundle checks a message-signature bundle over blob.
func (v *Verifier) VerifyBlobBundle(b *cosign.Bundle, blob Blob, ignoreTlogUnsafe bool) error {
	ms := b.GetMessageSignature()
	if ms == nil {
		return stepErr(ErrFormat, "blob bundle has no messageSignature (a DSSE bundle is an attestation, not a blob signature)", nil)
	}
	if md := ms.GetMessageDigest(); md != nil {
		if md.GetAlgorithm() == protocommon.HashAlgorithm_SHA2_256 && !bytes.Equal(md.GetDigest(), blob.SHA256) {
			return mismatch(ErrClaims, "bundle messageDigest is not the artifact's SHA-256",
				hex.EncodeToString(blob.SHA256), hex.EncodeToString(md.GetDigest()))
		}
	}
	var err error
	switch {
	case blob.Data != nil:
		err = keys.Verify(v.key, blob.Data, ms.GetSignature())
	case v.scheme.Hash == crypto.SHA256 && len(blob.SHA256) == 32:
		err = keys.VerifyDigest(v.key, v.scheme, blob.SHA256, ms.GetSignature())
	default:
		return stepErr(ErrFormat, fmt.Sprintf("a %s key signs the whole blob, not its SHA-256: give the file, not sha256:<hex>", v.scheme.Name), nil)
	}
	if err != nil {
		return stepErr(ErrSignature, "blob signature", err)
	}
	_, err = v.checkTlog(Policy{IgnoreTlogUnsafe: ignoreTlogUnsafe}, b.GetVerificationMaterial().GetTlogEntries(), v.matchHashedRekord(blob.SHA256, ms.GetSignature()))
	return err
}
