package tlogserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"hallmark.dev/hallmark/pkg/keys"
)

// defaultSignerFile is where a log keeps the key it generated for itself.
const defaultSignerFile = "log-signer.pem"

// LoadOrCreateSigner returns the log's signing key: the file at path (a
// PEM PKCS#8/SEC 1 key, or a cosign encrypted key opened with password),
// or, when path is empty, DIR/log-signer.pem, created on first start.
func LoadOrCreateSigner(dir, path string, password []byte) (crypto.Signer, error) {
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading log signer %s: %w", path, err)
		}
		k, err := parseSigner(data, password)
		if err != nil {
			return nil, fmt.Errorf("log signer %s: %w", path, err)
		}
		return k, nil
	}
	path = filepath.Join(dir, defaultSignerFile)
	data, err := os.ReadFile(path)
	if err == nil {
		k, err := parseSigner(data, nil)
		if err != nil {
			return nil, fmt.Errorf("log signer %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading log signer %s: %w", path, err)
	}
	k, err := keys.Generate()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating log signer %s: %w", path, err)
	}
	if _, err := f.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

func parseSigner(data, password []byte) (crypto.Signer, error) {
	var (
		k   crypto.Signer
		err error
	)
	block, _ := pem.Decode(data)
	if block != nil && (block.Type == keys.SigstorePrivateKeyPEMType || block.Type == keys.CosignPrivateKeyPEMType) {
		k, err = keys.DecryptPrivateKey(data, password)
	} else {
		k, err = keys.ParsePlainPrivateKey(data)
	}
	if err != nil {
		return nil, err
	}
	if _, ok := k.Public().(*ecdsa.PublicKey); !ok {
		return nil, fmt.Errorf("a log key must be ECDSA (Rekor v1 checkpoints and SETs), got %T", k.Public())
	}
	return k, nil
}
