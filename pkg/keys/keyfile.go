package keys

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// PEM block types of the key files cosign and Hallmark read and write.
const (
	SigstorePrivateKeyPEMType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	CosignPrivateKeyPEMType   = "ENCRYPTED COSIGN PRIVATE KEY" // written by cosign < 2.0
	PublicKeyPEMType          = "PUBLIC KEY"
)

// maxKeyFileSize caps what is read as a key file; real ones are under 4 KiB.
const maxKeyFileSize = 64 << 10

// ErrWrongPassword is returned when a private key file does not decrypt.
var ErrWrongPassword = errors.New("wrong password or corrupted key (decryption failed)")

// EncryptPrivateKey returns the PEM "ENCRYPTED SIGSTORE PRIVATE KEY" file
// holding priv, encrypted under password (which may be empty).
func EncryptPrivateKey(priv crypto.Signer, password []byte) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding private key as PKCS#8: %w", err)
	}
	enc, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, fmt.Errorf("encrypting private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: SigstorePrivateKeyPEMType, Bytes: enc}), nil
}

// DecryptPrivateKey parses an encrypted cosign/Hallmark private key file.
// It returns ErrWrongPassword (wrapped) when decryption fails.
func DecryptPrivateKey(data, password []byte) (crypto.Signer, error) {
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("key file is %d bytes, larger than the %d a key file can be", len(data), maxKeyFileSize)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found: not a cosign private key file")
	}
	if block.Type != SigstorePrivateKeyPEMType && block.Type != CosignPrivateKeyPEMType {
		return nil, fmt.Errorf("PEM block is %q, want %q (use import-key-pair for plain keys)", block.Type, SigstorePrivateKeyPEMType)
	}
	der, err := decrypt(block.Bytes, password)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parsing decrypted PKCS#8 key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	if _, err := SchemeFor(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

// decrypt wraps encrypted.Decrypt, which can panic on some malformed inputs,
// so that a garbled file is an error and never a crash.
func decrypt(ciphertext, password []byte) (plain []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			plain, err = nil, fmt.Errorf("malformed encrypted key: %v", r)
		}
	}()
	plain, err = encrypted.Decrypt(ciphertext, password)
	if err != nil {
		if isKDFOrFormatError(err) {
			return nil, fmt.Errorf("malformed encrypted key: %w", err)
		}
		return nil, ErrWrongPassword
	}
	return plain, nil
}

// isKDFOrFormatError tells a structural problem from a failed decryption.
// The library has no sentinel error: a wrong password (or tampered
// ciphertext) is reported only by this message from its secretbox step.
func isKDFOrFormatError(err error) bool {
	return err.Error() != "encrypted: decryption failed"
}

// MarshalPublicKey returns pub as a PEM "PUBLIC KEY" block (PKIX DER).
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PublicKeyPEMType, Bytes: der}), nil
}

// ParsePublicKey reads a PEM public key: a "PUBLIC KEY" block, or the public
// key of a "CERTIFICATE" block.
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("public key file is %d bytes, larger than the %d a key file can be", len(data), maxKeyFileSize)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found: not a PEM public key")
	}
	var pub crypto.PublicKey
	switch block.Type {
	case PublicKeyPEMType:
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing PKIX public key: %w", err)
		}
		pub = k
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		pub = c.PublicKey
	default:
		return nil, fmt.Errorf("PEM block is %q, want %q", block.Type, PublicKeyPEMType)
	}
	if _, err := SchemeFor(pub); err != nil {
		return nil, err
	}
	return pub, nil
}
