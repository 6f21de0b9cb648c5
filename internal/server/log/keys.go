package log

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
	"strings"
	"time"

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

// validFromFile records, once per log, when its key became valid.
const validFromFile = "log-valid-from"

// ValidFrom returns the time from which the log's key is valid, as its
// trusted root states it. It is fixed the first time the log starts (an
// hour back, for clock skew) and read back ever after, so a trusted root
// written at a later start still covers every entry the log holds.
func ValidFrom(dir string) (time.Time, error) {
	path := filepath.Join(dir, validFromFile)
	if b, err := os.ReadFile(path); err == nil {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", path, err)
		}
		return t, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, err
	}
	start := time.Now()
	// A log started before this file existed: its key file is the oldest
	// witness of when it began.
	if st, err := os.Stat(filepath.Join(dir, defaultSignerFile)); err == nil && st.ModTime().Before(start) {
		start = st.ModTime()
	}
	start = start.Add(-time.Hour).UTC().Truncate(time.Second)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(start.Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return time.Time{}, err
	}
	return start, os.Rename(tmp, path)
}
