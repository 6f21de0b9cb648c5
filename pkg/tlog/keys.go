package tlog

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// LogID is a log's identifier as Rekor and the trusted root name it: the
// SHA-256 of its public key's PKIX DER encoding.
func LogID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:], nil
}

// LogIDHex is LogID as lower-case hex, the form in Rekor's API.
func LogIDHex(pub crypto.PublicKey) (string, error) {
	id, err := LogID(pub)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(id), nil
}

// keyHash is Rekor's signed-note key hint: the first four bytes of the
// SHA-256 of the PKIX DER public key.
func keyHash(pub crypto.PublicKey) (uint32, error) {
	id, err := LogID(pub)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(id[:4]), nil
}
