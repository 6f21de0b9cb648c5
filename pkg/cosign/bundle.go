package cosign

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

// Bundle is a Sigstore bundle (protobuf-specs dev.sigstore.bundle.v1.Bundle).
type Bundle = protobundle.Bundle

// Bundle media types a reader must accept.
var bundleMediaTypes = map[string]bool{
	"application/vnd.dev.sigstore.bundle+json;version=0.1": true,
	"application/vnd.dev.sigstore.bundle+json;version=0.2": true,
	"application/vnd.dev.sigstore.bundle+json;version=0.3": true,
	BundleMediaType: true,
}

// maxBundleSignatures and maxBundleTlogEntries cap repeated fields, so that a
// hostile bundle cannot make a verifier do unbounded work.
const (
	maxBundleSignatures  = 16
	maxBundleTlogEntries = 32
)

// ErrMalformedBundle is wrapped by every structural error ParseBundle returns.
var ErrMalformedBundle = errors.New("malformed bundle")

// PAE is DSSE's pre-authentication encoding, the bytes a DSSE signature covers.
func PAE(payloadType string, payload []byte) []byte { return dsse.PAE(payloadType, payload) }

// KeyHint is the public-key hint cosign and sigstore-go put in a key-signed
// bundle: base64 of the SHA-256 of the PKIX DER public key.
func KeyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

func keyMaterial(hint string) *protobundle.VerificationMaterial {
	return &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_PublicKey{
			PublicKey: &protocommon.PublicKeyIdentifier{Hint: hint},
		},
	}
}

// NewDSSEBundle returns a v0.3 bundle holding a DSSE envelope signed by a key.
func NewDSSEBundle(payloadType string, payload, sig []byte, keyHint string) *Bundle {
	return &Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: keyMaterial(keyHint),
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     payload,
			PayloadType: payloadType,
			Signatures:  []*protodsse.Signature{{Sig: sig}},
		}},
	}
}

// NewMessageBundle returns a v0.3 bundle holding a signature over a blob
// whose SHA-256 digest is sha256Digest.
func NewMessageBundle(sha256Digest, sig []byte, keyHint string) *Bundle {
	return &Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: keyMaterial(keyHint),
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sha256Digest},
			Signature:     sig,
		}},
	}
}

// MarshalBundle encodes a bundle as protobuf-specs JSON.
func MarshalBundle(b *Bundle) ([]byte, error) { return protojson.Marshal(b) }

// ParseBundle decodes protobuf-specs JSON and checks the bundle's structure:
// a known media type, verification material, and exactly one content with
// its required fields. It returns an error wrapping ErrMalformedBundle.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(data) > MaxPayloadSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d byte limit", ErrMalformedBundle, len(data), MaxPayloadSize)
	}
	b := &Bundle{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBundle, err)
	}
	if err := validateBundle(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBundle, err)
	}
	return b, nil
}

func validateBundle(b *Bundle) error {
	if !bundleMediaTypes[b.GetMediaType()] {
		return fmt.Errorf("unknown mediaType %q", b.GetMediaType())
	}
	vm := b.GetVerificationMaterial()
	if vm == nil || vm.GetContent() == nil {
		return errors.New("no verificationMaterial")
	}
	if len(vm.GetTlogEntries()) > maxBundleTlogEntries {
		return fmt.Errorf("%d tlogEntries, more than %d", len(vm.GetTlogEntries()), maxBundleTlogEntries)
	}
	switch c := b.GetContent().(type) {
	case *protobundle.Bundle_DsseEnvelope:
		env := c.DsseEnvelope
		if env.GetPayloadType() == "" {
			return errors.New("dsseEnvelope has no payloadType")
		}
		if len(env.GetPayload()) == 0 {
			return errors.New("dsseEnvelope has no payload")
		}
		n := len(env.GetSignatures())
		if n == 0 || n > maxBundleSignatures {
			return fmt.Errorf("dsseEnvelope has %d signatures, want 1 to %d", n, maxBundleSignatures)
		}
		for i, s := range env.GetSignatures() {
			if len(s.GetSig()) == 0 {
				return fmt.Errorf("dsseEnvelope signature %d is empty", i)
			}
		}
	case *protobundle.Bundle_MessageSignature:
		ms := c.MessageSignature
		if len(ms.GetSignature()) == 0 {
			return errors.New("messageSignature has no signature")
		}
		if md := ms.GetMessageDigest(); md != nil && len(md.GetDigest()) == 0 {
			return errors.New("messageSignature.messageDigest has no digest")
		}
	default:
		return errors.New("no content: want dsseEnvelope or messageSignature")
	}
	return nil
}
