package sign

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/verify"
)

// SignBlob signs data and returns the bundle (protobuf-specs JSON) and the
// raw signature.
func (s *Signer) SignBlob(ctx context.Context, data []byte) (bundleJSON, sig []byte, err error) {
	b, err := s.SignBlobBundle(ctx, verify.BlobData(data))
	if err != nil {
		return nil, nil, err
	}
	raw, err := cosign.MarshalBundle(b)
	if err != nil {
		return nil, nil, err
	}
	return raw, b.GetMessageSignature().GetSignature(), nil
}

// Hash is the hash whose digest of a message the signer's key signs
// (SHA-256 for a keyless signer's P-256 key).
func (s *Signer) Hash() crypto.Hash {
	scheme, err := keys.SchemeFor(s.key.Public())
	if err != nil {
		return crypto.SHA256
	}
	return scheme.Hash
}

// SignBlobBundle signs a blob and returns the v0.3 bundle, with its log
// entry when a log is configured. The blob is its bytes (verify.BlobData) or
// its digests (verify.HashBlob): SHA-256 and the key's hash.
func (s *Signer) SignBlobBundle(ctx context.Context, blob verify.Blob) (*cosign.Bundle, error) {
	scheme, err := keys.SchemeFor(s.key.Public())
	if err != nil {
		return nil, err
	}
	var sig []byte
	if blob.Data != nil {
		blob = verify.BlobData(blob.Data) // every digest from the bytes signed
		sig, err = keys.Sign(s.key, blob.Data)
	} else if d := blob.Digest(verify.HashName(scheme.Hash)); d != nil {
		sig, err = keys.SignDigest(s.key, d)
	} else {
		return nil, fmt.Errorf("signing blob: a %s key signs the blob's %s digest, which was not computed", scheme.Name, scheme.Hash)
	}
	if err != nil {
		return nil, fmt.Errorf("signing blob: %w", err)
	}
	// The bundle names the digest the key signs, as cosign does.
	sum := blob.Digest(verify.HashName(scheme.Hash))
	if sum == nil {
		return nil, fmt.Errorf("signing blob: its %s digest was not computed", scheme.Hash)
	}
	b := cosign.NewMessageBundleHash(scheme.Hash, sum, sig, s.hint)
	s.material(b)
	ts, tle, err := s.evidence(ctx, sig, LogRecord{Signed: blob.Data, Digests: blob.Digests, Sig: sig})
	if err != nil {
		return nil, err
	}
	addTimestamps(b, ts)
	if tle != nil {
		b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, tle)
	}
	if err := s.judgeBundle("signature", b, func(v *verify.Verifier, b *cosign.Bundle) error {
		_, err := v.VerifyBlobBundle(b, blob)
		return err
	}); err != nil {
		return nil, err
	}
	return b, nil
}

// LegacyBlobBundle is cosign's legacy blob bundle for a signed bundle: the
// base64 signature and the log entry's SET (a Rekor v1 entry: v2 entries have
// no SET to carry).
func LegacyBlobBundle(b *cosign.Bundle) ([]byte, error) {
	out := cosign.LocalSignedPayload{Base64Signature: base64.StdEncoding.EncodeToString(b.GetMessageSignature().GetSignature())}
	if c := b.GetVerificationMaterial().GetCertificate(); c != nil {
		out.Cert = base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.GetRawBytes()}))
	}
	if tles := b.GetVerificationMaterial().GetTlogEntries(); len(tles) > 0 {
		rb, err := legacyRekorBundle(tles[0])
		if err != nil {
			return nil, err
		}
		if out.RekorBundle, _, err = cosign.ParseRekorBundle(rb); err != nil {
			return nil, err
		}
	}
	return json.Marshal(out)
}

// LegacyAttestationOutputs are cosign v2's outputs of attest-blob
// --new-bundle-format=false for a DSSE bundle: the envelope JSON (its
// "signature"), the legacy blob bundle (the envelope base64-encoded as the
// signature, the certificate, the log entry's SET) and the certificate PEM
// (nil for a key).
func LegacyAttestationOutputs(b *cosign.Bundle) (envelope, legacyBundle, certPEM []byte, err error) {
	env := b.GetDsseEnvelope()
	if env == nil || len(env.GetSignatures()) != 1 {
		return nil, nil, nil, fmt.Errorf("not an attestation bundle (a DSSE envelope with one signature)")
	}
	if envelope, err = rekor.MarshalDSSEEnvelope(env.GetPayloadType(), env.GetPayload(), env.GetSignatures()[0].GetSig()); err != nil {
		return nil, nil, nil, err
	}
	out := cosign.LocalSignedPayload{Base64Signature: base64.StdEncoding.EncodeToString(envelope)}
	if c := b.GetVerificationMaterial().GetCertificate(); c != nil {
		certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.GetRawBytes()})
		out.Cert = base64.StdEncoding.EncodeToString(certPEM)
	}
	if tles := b.GetVerificationMaterial().GetTlogEntries(); len(tles) > 0 {
		rb, err := legacyRekorBundle(tles[0])
		if err != nil {
			return nil, nil, nil, err
		}
		if out.RekorBundle, _, err = cosign.ParseRekorBundle(rb); err != nil {
			return nil, nil, nil, err
		}
	}
	if legacyBundle, err = json.Marshal(out); err != nil {
		return nil, nil, nil, err
	}
	return envelope, legacyBundle, certPEM, nil
}
