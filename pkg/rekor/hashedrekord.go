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
	// The canonical body keeps exactly these fields, lower-case hex digest.
	s.Data.Hash.Algorithm, s.Data.Hash.Value = alg, hex.EncodeToString(digest)
	body, err := canonical(entryJSON{"0.0.1", "hashedrekord", s})
	if err != nil {
		return nil, err
	}
	return &Entry{Kind: "hashedrekord", APIVersion: "0.0.1", Body: body,
		Keys: append([]string{alg + ":" + hex.EncodeToString(digest)}, searchKeys...)}, nil
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
