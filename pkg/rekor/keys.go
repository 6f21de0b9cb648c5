package rekor

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"

	"hallmark.dev/hallmark/pkg/keys"
)

// parsedVerifier is a verifier parsed once: signers send the same key with
// every entry they log, so parses are cached (by the exact PEM bytes).
type parsedVerifier struct {
	pub  crypto.PublicKey
	keys []string
}

// verifierCacheSize bounds the cache; when full it starts over.
const verifierCacheSize = 4096

var verifiers struct {
	sync.Mutex
	m map[string]parsedVerifier
}

// parseVerifier reads a PEM public key or certificate, as Rekor entries carry
// them, and returns the key and the search keys it implies. The returned
// slice is shared: callers copy before changing it.
func parseVerifier(pemBytes []byte) (crypto.PublicKey, []string, error) {
	verifiers.Lock()
	v, ok := verifiers.m[string(pemBytes)]
	verifiers.Unlock()
	if ok {
		return v.pub, v.keys, nil
	}
	pub, keys, err := parseVerifierUncached(pemBytes)
	if err != nil {
		return nil, nil, err
	}
	cacheVerifier(string(pemBytes), parsedVerifier{pub, keys})
	return pub, keys, nil
}

func cacheVerifier(id string, v parsedVerifier) {
	verifiers.Lock()
	defer verifiers.Unlock()
	if verifiers.m == nil || len(verifiers.m) >= verifierCacheSize {
		verifiers.m = make(map[string]parsedVerifier)
	}
	verifiers.m[id] = v
}

func parseVerifierUncached(pemBytes []byte) (crypto.PublicKey, []string, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, nil, errors.New("verifier is not PEM")
	}
	var (
		pub   crypto.PublicKey
		extra []string
	)
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("public key: %w", err)
		}
		pub = k
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("certificate: %w", err)
		}
		pub = c.PublicKey
		for _, e := range c.EmailAddresses {
			extra = append(extra, "email:"+strings.ToLower(e))
		}
		for _, u := range c.URIs {
			extra = append(extra, "subject:"+u.String())
		}
	default:
		return nil, nil, fmt.Errorf("verifier PEM block is %q, want PUBLIC KEY or CERTIFICATE", block.Type)
	}
	if _, err := keys.SchemeFor(pub); err != nil {
		return nil, nil, err
	}
	fp, err := KeyFingerprint(pub)
	if err != nil {
		return nil, nil, err
	}
	return pub, append([]string{fp}, extra...), nil
}

// KeyFingerprint is the search key of a public key: "pk:" and the hex SHA-256
// of its PKIX DER encoding.
func KeyFingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return "pk:" + hex.EncodeToString(sum[:]), nil
}
