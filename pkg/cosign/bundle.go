package cosign

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"golang.org/x/mod/semver"
	"google.golang.org/protobuf/encoding/protojson"
)

// Bundle is a Sigstore bundle (protobuf-specs dev.sigstore.bundle.v1.Bundle).
type Bundle = protobundle.Bundle

// bundleVersion reads a bundle media type: the old form
// "application/vnd.dev.sigstore.bundle+json;version=0.N" or the current
// "application/vnd.dev.sigstore.bundle.vX.Y[.Z]+json", for versions 0.1 up
// to (not including) 0.4. It returns the minor version.
func bundleVersion(mt string) (int, error) {
	if v, ok := strings.CutPrefix(mt, "application/vnd.dev.sigstore.bundle+json;version=0."); ok {
		switch v {
		case "1", "2", "3":
			return int(v[0] - '0'), nil
		}
		return 0, fmt.Errorf("unsupported bundle mediaType %q (versions 0.1 to 0.3 are)", mt)
	}
	v, ok := strings.CutPrefix(mt, "application/vnd.dev.sigstore.bundle.v")
	if v, ok2 := strings.CutSuffix(v, "+json"); ok && ok2 && semver.IsValid("v"+v) {
		if semver.Compare("v"+v, "v0.1") >= 0 && semver.Compare("v"+v, "v0.4") < 0 {
			minor, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(semver.MajorMinor("v"+v), "v0."), ".")[0])
			return minor, nil
		}
	}
	return 0, fmt.Errorf("unsupported bundle mediaType %q (versions 0.1 to 0.3 are)", mt)
}

// maxBundleSignatures and maxBundleTlogEntries cap repeated fields, so that a
// hostile bundle cannot make a verifier do unbounded work.
const (
	maxBundleSignatures  = 16
	maxBundleTlogEntries = 32
	maxBundleTimestamps  = 32
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
	return NewMessageBundleHash(crypto.SHA256, sha256Digest, sig, keyHint)
}

// NewMessageBundleHash is NewMessageBundle naming the artifact's digest
// under h: the key's hash, as cosign names it (SHA2_384 for a P-384 key,
// SHA2_512 for P-521 and Ed25519). A hash other than SHA-256/384/512 is
// named SHA2_256.
func NewMessageBundleHash(h crypto.Hash, digest, sig []byte, keyHint string) *Bundle {
	alg := map[crypto.Hash]protocommon.HashAlgorithm{
		crypto.SHA384: protocommon.HashAlgorithm_SHA2_384,
		crypto.SHA512: protocommon.HashAlgorithm_SHA2_512,
	}[h]
	if alg == protocommon.HashAlgorithm_HASH_ALGORITHM_UNSPECIFIED {
		alg = protocommon.HashAlgorithm_SHA2_256
	}
	return &Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: keyMaterial(keyHint),
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: alg, Digest: digest},
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
	if len(data) > MaxBlobSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d byte limit", ErrMalformedBundle, len(data), MaxBlobSize)
	}
	b := &Bundle{}
	// Unknown fields are refused, as sigstore-go refuses them: a bundle
	// version this reader does not know must not verify half-read.
	if err := protojson.Unmarshal(data, b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBundle, err)
	}
	if err := validateBundle(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBundle, err)
	}
	return b, nil
}

func validateBundle(b *Bundle) error {
	minor, err := bundleVersion(b.GetMediaType())
	if err != nil {
		return err
	}
	vm := b.GetVerificationMaterial()
	if vm == nil || vm.GetContent() == nil {
		return errors.New("no verificationMaterial")
	}
	if n := len(vm.GetTimestampVerificationData().GetRfc3161Timestamps()); n > maxBundleTimestamps {
		return fmt.Errorf("%d RFC 3161 timestamps, more than %d", n, maxBundleTimestamps)
	}
	if err := validateTlogEntries(vm.GetTlogEntries(), minor); err != nil {
		return err
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

// validateTlogEntries checks each entry's structure, and what the bundle's
// version requires of them: v0.1 bundles at least one entry with a SET, later
// ones at least one with an inclusion proof.
func validateTlogEntries(entries []*protorekor.TransparencyLogEntry, minor int) error {
	if len(entries) > maxBundleTlogEntries {
		return fmt.Errorf("%d tlogEntries, more than %d", len(entries), maxBundleTlogEntries)
	}
	promise, proof := false, false
	for i, e := range entries {
		switch {
		case len(e.GetCanonicalizedBody()) == 0:
			return fmt.Errorf("tlog entry %d has no canonicalizedBody", i)
		case e.GetLogIndex() < 0:
			return fmt.Errorf("tlog entry %d has a negative logIndex", i)
		case len(e.GetLogId().GetKeyId()) == 0:
			return fmt.Errorf("tlog entry %d has no logId", i)
		case e.GetKindVersion() == nil:
			return fmt.Errorf("tlog entry %d has no kindVersion", i)
		}
		if p := e.GetInclusionProof(); p != nil {
			if p.GetCheckpoint().GetEnvelope() == "" {
				return fmt.Errorf("tlog entry %d: inclusion proof has no checkpoint", i)
			}
			proof = true
		}
		promise = promise || e.GetInclusionPromise() != nil
	}
	if len(entries) > 0 && minor == 1 && !promise {
		return errors.New("a v0.1 bundle's tlog entries must carry an inclusion promise (SET)")
	}
	if len(entries) > 0 && minor > 1 && !proof {
		return errors.New("a v0.2+ bundle's tlog entries must carry an inclusion proof")
	}
	return nil
}
