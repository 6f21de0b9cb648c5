package rekor

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// Rekor v2 (rekor-tiles) formats, in their protobuf JSON form. Bytes fields
// are base64 in JSON, as protojson writes them.

type v2PublicKey struct {
	RawBytes []byte `json:"rawBytes"`
}

type v2Verifier struct {
	PublicKey       *v2PublicKey `json:"publicKey,omitempty"`
	X509Certificate *v2PublicKey `json:"x509Certificate,omitempty"`
	KeyDetails      string       `json:"keyDetails"`
}

type v2Signature struct {
	Content  []byte     `json:"content"`
	Verifier v2Verifier `json:"verifier"`
}

type v2HashedRekordRequest struct {
	Digest    []byte      `json:"digest"`
	Signature v2Signature `json:"signature"`
}

type v2HashOutput struct {
	Algorithm string `json:"algorithm"`
	Digest    []byte `json:"digest"`
}

type v2HashedRekordEntry struct {
	Data      v2HashOutput `json:"data"`
	Signature v2Signature  `json:"signature"`
}

type v2Entry struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Spec       struct {
		HashedRekordV002 *v2HashedRekordEntry `json:"hashedRekordV002,omitempty"`
	} `json:"spec"`
}

// keyDetailHashes is the hash each supported PublicKeyDetails prehashes with.
var keyDetailHashes = map[string]crypto.Hash{
	"PKIX_ECDSA_P256_SHA_256":       crypto.SHA256,
	"PKIX_ECDSA_P384_SHA_384":       crypto.SHA384,
	"PKIX_ECDSA_P521_SHA_512":       crypto.SHA512,
	"PKIX_RSA_PKCS1V15_2048_SHA256": crypto.SHA256,
	"PKIX_RSA_PKCS1V15_3072_SHA256": crypto.SHA256,
	"PKIX_RSA_PKCS1V15_4096_SHA256": crypto.SHA256,
	"PKIX_ED25519_PH":               crypto.SHA512,
}

var hashNames = map[crypto.Hash]string{crypto.SHA256: "SHA2_256", crypto.SHA384: "SHA2_384", crypto.SHA512: "SHA2_512"}

// keyMatchesDetails checks that a key is of the type its keyDetails name.
func keyMatchesDetails(pub crypto.PublicKey, details string) error {
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = (details == "PKIX_ECDSA_P256_SHA_256" && k.Curve == elliptic.P256()) ||
			(details == "PKIX_ECDSA_P384_SHA_384" && k.Curve == elliptic.P384()) ||
			(details == "PKIX_ECDSA_P521_SHA_512" && k.Curve == elliptic.P521())
	case *rsa.PublicKey:
		ok = details == fmt.Sprintf("PKIX_RSA_PKCS1V15_%d_SHA256", k.N.BitLen())
	case ed25519.PublicKey:
		ok = details == "PKIX_ED25519_PH"
	}
	if !ok {
		return fmt.Errorf("keyDetails %s does not describe a %T key", details, pub)
	}
	return nil
}

// ParseV2Request validates a Rekor v2 CreateEntryRequest (hashedrekord
// 0.0.2) and returns its entry. Errors wrap ErrInvalidEntry.
func ParseV2Request(data []byte) (*Entry, error) {
	if len(data) > MaxEntrySize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d byte limit", ErrInvalidEntry, len(data), MaxEntrySize)
	}
	var req struct {
		HashedRekord *v2HashedRekordRequest `json:"hashedRekordRequestV002"`
		DSSE         json.RawMessage        `json:"dsseRequestV002"`
	}
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("%w: not a JSON CreateEntryRequest: %v", ErrInvalidEntry, err)
	}
	if req.HashedRekord == nil {
		if req.DSSE != nil {
			return nil, fmt.Errorf("%w: dsseRequestV002 is not supported; log envelopes as hashedrekord 0.0.2 over the PAE", ErrInvalidEntry)
		}
		return nil, fmt.Errorf("%w: want hashedRekordRequestV002", ErrInvalidEntry)
	}
	e, err := parseV2HashedRekord(req.HashedRekord)
	if err != nil {
		return nil, fmt.Errorf("%w: hashedrekord 0.0.2: %v", ErrInvalidEntry, err)
	}
	return e, nil
}

// v2HashedRekordBody is the canonical (RFC 8785) body of a hashedrekord
// 0.0.2 entry: rekor-tiles' Entry in protobuf JSON, keys sorted. Every value
// is an enum name or base64, so nothing needs escaping and the bytes are
// written directly; a test holds them to a JCS library.
func v2HashedRekordBody(alg string, digest []byte, sig v2Signature) []byte {
	b64 := base64.StdEncoding
	b := make([]byte, 0, 256+b64.EncodedLen(len(digest))+b64.EncodedLen(len(sig.Content))+512)
	b = append(b, `{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":"`...)
	b = append(b, alg...)
	b = append(b, `","digest":"`...)
	b = b64.AppendEncode(b, digest)
	b = append(b, `"},"signature":{"content":"`...)
	b = b64.AppendEncode(b, sig.Content)
	b = append(b, `","verifier":{"keyDetails":"`...)
	b = append(b, sig.Verifier.KeyDetails...)
	b = append(b, '"')
	if k := sig.Verifier.PublicKey; k != nil {
		b = append(b, `,"publicKey":{"rawBytes":"`...)
		b = b64.AppendEncode(b, k.RawBytes)
		b = append(b, `"}`...)
	}
	if c := sig.Verifier.X509Certificate; c != nil {
		b = append(b, `,"x509Certificate":{"rawBytes":"`...)
		b = b64.AppendEncode(b, c.RawBytes)
		b = append(b, `"}`...)
	}
	return append(b, `}}}}}`...)
}

// v2Key returns the verifier's key and search keys, parsed once per
// distinct verifier (see parseVerifier).
func v2Key(v v2Verifier) (crypto.PublicKey, []string, error) {
	var id string
	switch {
	case v.PublicKey != nil && len(v.PublicKey.RawBytes) > 0:
		id = "k" + string(v.PublicKey.RawBytes)
	case v.X509Certificate != nil && len(v.X509Certificate.RawBytes) > 0:
		id = "c" + string(v.X509Certificate.RawBytes)
	}
	verifiers.Lock()
	c, ok := verifiers.m[id]
	verifiers.Unlock()
	if ok && id != "" {
		return c.pub, c.keys, nil
	}
	pub, keys, err := v2KeyUncached(v)
	if err != nil {
		return nil, nil, err
	}
	cacheVerifier(id, parsedVerifier{pub, keys})
	return pub, keys, nil
}

func v2KeyUncached(v v2Verifier) (crypto.PublicKey, []string, error) {
	var (
		pub   crypto.PublicKey
		extra []string
	)
	switch {
	case v.PublicKey != nil && len(v.PublicKey.RawBytes) > 0:
		k, err := x509.ParsePKIXPublicKey(v.PublicKey.RawBytes)
		if err != nil {
			return nil, nil, fmt.Errorf("verifier.publicKey: %v", err)
		}
		pub = k
	case v.X509Certificate != nil && len(v.X509Certificate.RawBytes) > 0:
		c, err := x509.ParseCertificate(v.X509Certificate.RawBytes)
		if err != nil {
			return nil, nil, fmt.Errorf("verifier.x509Certificate: %v", err)
		}
		pub = c.PublicKey
		for _, e := range c.EmailAddresses {
			extra = append(extra, "email:"+e)
		}
	default:
		return nil, nil, errors.New("signature.verifier has neither publicKey nor x509Certificate")
	}
	fp, err := KeyFingerprint(pub)
	if err != nil {
		return nil, nil, err
	}
	return pub, append([]string{fp}, extra...), nil
}

func parseV2HashedRekord(r *v2HashedRekordRequest) (*Entry, error) {
	h, ok := keyDetailHashes[r.Signature.Verifier.KeyDetails]
	if !ok {
		return nil, fmt.Errorf("keyDetails %q is not supported", r.Signature.Verifier.KeyDetails)
	}
	pub, searchKeys, err := v2Key(r.Signature.Verifier)
	if err != nil {
		return nil, err
	}
	if err := keyMatchesDetails(pub, r.Signature.Verifier.KeyDetails); err != nil {
		return nil, err
	}
	if len(r.Digest) != h.Size() {
		return nil, fmt.Errorf("digest is %d bytes, %s needs %d", len(r.Digest), hashNames[h], h.Size())
	}
	if len(r.Signature.Content) == 0 {
		return nil, errors.New("signature.content is empty")
	}
	if err := verifyDigest(pub, h, r.Digest, r.Signature.Content); err != nil {
		return nil, fmt.Errorf("signature does not verify over digest under the verifier: %v", err)
	}
	body := v2HashedRekordBody(hashNames[h], r.Digest, r.Signature)
	alg := map[crypto.Hash]string{crypto.SHA256: "sha256", crypto.SHA384: "sha384", crypto.SHA512: "sha512"}[h]
	return &Entry{Kind: "hashedrekord", APIVersion: "0.0.2", Body: body,
		Keys: append([]string{alg + ":" + hex.EncodeToString(r.Digest)}, searchKeys...)}, nil
}

// NewV2HashedRekord returns a Rekor v2 CreateEntryRequest for a signature
// over a SHA-256 digest by an ECDSA P-256 key (tests and clients).
func NewV2HashedRekord(sha256Digest, sig []byte, pub crypto.PublicKey) ([]byte, error) {
	return NewV2HashedRekordFor(pub, sha256Digest, sig)
}

// NewV2HashedRekordFor returns a Rekor v2 CreateEntryRequest for sig by pub
// over digest, which must be the signed bytes hashed with the hash the key's
// keyDetails name (SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for
// P-521 and Ed25519ph).
func NewV2HashedRekordFor(pub crypto.PublicKey, digest, sig []byte) ([]byte, error) {
	details, err := KeyDetails(pub)
	if err != nil {
		return nil, err
	}
	if h := keyDetailHashes[details]; len(digest) != h.Size() {
		return nil, fmt.Errorf("digest is %d bytes, %s needs %d", len(digest), hashNames[h], h.Size())
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"hashedRekordRequestV002": v2HashedRekordRequest{
		Digest: digest,
		Signature: v2Signature{Content: sig, Verifier: v2Verifier{
			PublicKey: &v2PublicKey{RawBytes: der}, KeyDetails: details,
		}},
	}})
}

// NewV2HashedRekordForCert is NewV2HashedRekordFor for a signature by a
// certificate's key: the entry records the certificate.
func NewV2HashedRekordForCert(cert *x509.Certificate, digest, sig []byte) ([]byte, error) {
	details, err := KeyDetails(cert.PublicKey)
	if err != nil {
		return nil, err
	}
	if h := keyDetailHashes[details]; len(digest) != h.Size() {
		return nil, fmt.Errorf("digest is %d bytes, %s needs %d", len(digest), hashNames[h], h.Size())
	}
	return json.Marshal(map[string]any{"hashedRekordRequestV002": v2HashedRekordRequest{
		Digest: digest,
		Signature: v2Signature{Content: sig, Verifier: v2Verifier{
			X509Certificate: &v2PublicKey{RawBytes: cert.Raw}, KeyDetails: details,
		}},
	}})
}

// KeyDetails names a key as protobuf-specs' PublicKeyDetails, and with it
// the hash its signatures are logged under in Rekor v2.
func KeyDetails(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "PKIX_ECDSA_P256_SHA_256", nil
		case elliptic.P384():
			return "PKIX_ECDSA_P384_SHA_384", nil
		case elliptic.P521():
			return "PKIX_ECDSA_P521_SHA_512", nil
		}
	case *rsa.PublicKey:
		d := fmt.Sprintf("PKIX_RSA_PKCS1V15_%d_SHA256", k.N.BitLen())
		if _, ok := keyDetailHashes[d]; ok {
			return d, nil
		}
	case ed25519.PublicKey:
		return "PKIX_ED25519_PH", nil
	}
	return "", fmt.Errorf("a %T key cannot be logged in Rekor v2", pub)
}

// V2Hash is the hash Rekor v2 logs a signature by pub under.
func V2Hash(pub crypto.PublicKey) (crypto.Hash, error) {
	d, err := KeyDetails(pub)
	if err != nil {
		return 0, err
	}
	return keyDetailHashes[d], nil
}

// parseV2Body reads a stored hashedrekord 0.0.2 or dsse 0.0.2 body. The
// verifier is returned as PEM, a certificate as a certificate, so that a
// verifier can require the very certificate a signature was made with.
func parseV2Body(kind string, spec json.RawMessage) (*Body, error) {
	var s struct {
		HashedRekordV002 *v2HashedRekordEntry `json:"hashedRekordV002"`
		DSSEV002         *v2DSSEEntry         `json:"dsseV002"`
	}
	if err := json.Unmarshal(spec, &s); err != nil {
		return nil, fmt.Errorf("%s 0.0.2 body: %v", kind, err)
	}
	switch {
	case kind == "hashedrekord" && s.HashedRekordV002 != nil:
		hr := s.HashedRekordV002
		pemBytes, err := v2VerifierPEM(hr.Signature.Verifier)
		if err != nil {
			return nil, fmt.Errorf("hashedrekord 0.0.2 body: %v", err)
		}
		alg, ok := v2HashNames[hr.Data.Algorithm]
		if !ok {
			return nil, fmt.Errorf("hashedrekord 0.0.2 body: digest algorithm %q", hr.Data.Algorithm)
		}
		return &Body{Kind: kind, APIVersion: "0.0.2", DigestAlgorithm: alg, Digest: hr.Data.Digest, Signature: hr.Signature.Content, PublicKeyPEM: pemBytes}, nil
	case kind == "dsse" && s.DSSEV002 != nil:
		d := s.DSSEV002
		if d.PayloadHash.Algorithm != "SHA2_256" || len(d.PayloadHash.Digest) != 32 {
			return nil, fmt.Errorf("dsse 0.0.2 body: payloadHash is not a SHA2_256 digest")
		}
		b := &Body{Kind: kind, APIVersion: "0.0.2", PayloadSHA256: d.PayloadHash.Digest}
		for i, sig := range d.Signatures {
			pemBytes, err := v2VerifierPEM(sig.Verifier)
			if err != nil {
				return nil, fmt.Errorf("dsse 0.0.2 body signature %d: %v", i, err)
			}
			b.Signatures, b.VerifiersPEM = append(b.Signatures, sig.Content), append(b.VerifiersPEM, pemBytes)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%s 0.0.2 body has no %s spec", kind, map[string]string{"hashedrekord": "hashedRekordV002", "dsse": "dsseV002"}[kind])
}

// v2DSSEEntry is the spec of a stored dsse 0.0.2 entry.
type v2DSSEEntry struct {
	PayloadHash v2HashOutput  `json:"payloadHash"`
	Signatures  []v2Signature `json:"signatures"`
}

var v2HashNames = map[string]string{"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}

// v2VerifierPEM wraps a v2 verifier's DER in PEM, as v1 bodies carry it.
func v2VerifierPEM(v v2Verifier) ([]byte, error) {
	switch {
	case v.X509Certificate != nil && len(v.X509Certificate.RawBytes) > 0:
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: v.X509Certificate.RawBytes}), nil
	case v.PublicKey != nil && len(v.PublicKey.RawBytes) > 0:
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: v.PublicKey.RawBytes}), nil
	}
	return nil, errors.New("verifier has neither publicKey nor x509Certificate")
}
