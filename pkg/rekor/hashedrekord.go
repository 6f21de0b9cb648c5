package rekor

import (
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"hallmark.dev/hallmark/pkg/keys"
)

type hashedRekordSpec struct {
	Data struct {
		Hash struct {
			Algorithm string `json:"algorithm"`
			Value     string `json:"value"`
		} `json:"hash"`
	} `json:"data"`
	Signature struct {
		Content   string `json:"content"`
		PublicKey struct {
			Content string `json:"content"`
		} `json:"publicKey"`
	} `json:"signature"`
}

var hashSizes = map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}

func parseHashedRekord(raw json.RawMessage) (*Entry, error) {
	var s hashedRekordSpec
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("spec: %v", err)
	}
	return hashedRekordFrom(&s)
}

func hashedRekordFrom(s *hashedRekordSpec) (*Entry, error) {
	alg := strings.ToLower(s.Data.Hash.Algorithm)
	h, ok := hashSizes[alg]
	if !ok {
		return nil, fmt.Errorf("data.hash.algorithm %q: want sha256, sha384 or sha512", s.Data.Hash.Algorithm)
	}
	digest, err := hex.DecodeString(s.Data.Hash.Value)
	if err != nil || len(digest) != h.Size() {
		return nil, fmt.Errorf("data.hash.value is not %d hex-encoded bytes", h.Size())
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature.Content)
	if err != nil || len(sig) == 0 {
		return nil, errors.New("signature.content is not base64")
	}
	pemBytes, err := base64.StdEncoding.DecodeString(s.Signature.PublicKey.Content)
	if err != nil {
		return nil, errors.New("signature.publicKey.content is not base64")
	}
	pub, searchKeys, err := parseVerifier(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("signature.publicKey: %v", err)
	}
	if err := verifyDigest(pub, h, digest, sig); err != nil {
		return nil, fmt.Errorf("signature does not verify over data.hash under signature.publicKey: %v", err)
	}
	body := hashedRekordBody(alg, digest, sig, pemBytes)
	return &Entry{Kind: "hashedrekord", APIVersion: "0.0.1", Body: body,
		Keys: append([]string{alg + ":" + hex.EncodeToString(digest)}, searchKeys...)}, nil
}

// hashedRekordBody is the canonical (RFC 8785) body of a hashedrekord 0.0.1
// entry, as Rekor stores it: exactly these fields, keys in sorted order, the
// digest in lower-case hex and the signature and key re-encoded in standard
// base64 (Rekor decodes and re-encodes both). No value needs JSON escaping,
// so the bytes are written directly; a test holds them to a JCS library.
func hashedRekordBody(alg string, digest, sig, pemBytes []byte) []byte {
	b64 := base64.StdEncoding
	b := make([]byte, 0, 128+hex.EncodedLen(len(digest))+b64.EncodedLen(len(sig))+b64.EncodedLen(len(pemBytes)))
	b = append(b, `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"`...)
	b = append(b, alg...)
	b = append(b, `","value":"`...)
	b = hex.AppendEncode(b, digest)
	b = append(b, `"}},"signature":{"content":"`...)
	b = b64.AppendEncode(b, sig)
	b = append(b, `","publicKey":{"content":"`...)
	b = b64.AppendEncode(b, pemBytes)
	return append(b, `"}}}}`...)
}

// verifyDigest checks sig over a prehashed message. Ed25519 keys sign
// hashedrekord entries with Ed25519ph (SHA-512 only).
func verifyDigest(pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) error {
	s, err := keys.SchemeFor(pub)
	if err != nil {
		return err
	}
	if _, isEd := pub.(ed25519.PublicKey); isEd && h != crypto.SHA512 {
		return errors.New("an Ed25519 key signs hashedrekord entries with Ed25519ph over SHA-512")
	}
	s.Hash = h
	return keys.VerifyDigest(pub, s, digest, sig)
}
