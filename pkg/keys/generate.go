package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Generate returns a new ECDSA P-256 key, cosign's default.
func Generate() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// ParsePlainPrivateKey reads an unencrypted PEM private key for import:
// "RSA PRIVATE KEY" (PKCS#1), "EC PRIVATE KEY" (SEC 1) or "PRIVATE KEY"
// (PKCS#8: RSA, ECDSA or Ed25519). An already encrypted cosign key is
// refused with a hint, since importing it would be a no-op.
func ParsePlainPrivateKey(data []byte) (crypto.Signer, error) {
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("key file is %d bytes, larger than the %d a key file can be", len(data), maxKeyFileSize)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found: not a PEM private key")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case SigstorePrivateKeyPEMType, CosignPrivateKeyPEMType:
		return nil, errors.New("key is already an encrypted cosign key: use it directly with --key")
	default:
		return nil, fmt.Errorf("unsupported PEM block %q (want RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	var signer crypto.Signer
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		signer = k
	case *rsa.PrivateKey:
		signer = k
	case ed25519.PrivateKey:
		signer = k
	default:
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	if _, err := SchemeFor(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}
