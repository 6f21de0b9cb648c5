package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Files in a CA directory. chain.pem is written last: its presence means
// the directory is complete.
const (
	ChainFile   = "chain.pem"    // issuing certificate first, root last
	KeyFile     = "key.pem"      // the issuing certificate's key
	RootKeyFile = "root-key.pem" // the root's key, when an intermediate issues
)

// LoadOrCreateCA returns the CA kept in dir, creating it from spec on first
// use. A directory left without its chain by a crash is created afresh.
func LoadOrCreateCA(dir string, spec CASpec) (chain []*x509.Certificate, key crypto.Signer, created bool, err error) {
	chain, key, err = ReadCA(filepath.Join(dir, ChainFile), filepath.Join(dir, KeyFile), nil)
	if err == nil {
		return chain, key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, false, err
	}
	chain, key, rootKey, err := NewCA(spec, time.Now())
	if err != nil {
		return nil, nil, false, err
	}
	if rootKey != nil {
		if err := writeKey(filepath.Join(dir, RootKeyFile), rootKey); err != nil {
			return nil, nil, false, err
		}
	}
	if err := writeKey(filepath.Join(dir, KeyFile), key); err != nil {
		return nil, nil, false, err
	}
	if err := WriteFileAtomic(filepath.Join(dir, ChainFile), EncodeCertificates(chain...), 0o644); err != nil {
		return nil, nil, false, err
	}
	return chain, key, true, nil
}

func writeKey(path string, k crypto.Signer) error {
	b, err := MarshalKey(k)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, b, 0o600)
}

// ReadCA reads a CA given as files: a PEM chain (issuing certificate first,
// root last) and the issuing certificate's key, which must match it.
func ReadCA(chainPath, keyPath string, password []byte) ([]*x509.Certificate, crypto.Signer, error) {
	chain, err := ReadCertificates(chainPath)
	if err != nil {
		return nil, nil, err
	}
	key, err := ReadKey(keyPath, password)
	if err != nil {
		return nil, nil, err
	}
	if err := checkChain(chain, key); err != nil {
		return nil, nil, fmt.Errorf("%s with %s: %w", chainPath, keyPath, err)
	}
	return chain, key, nil
}

func checkChain(chain []*x509.Certificate, key crypto.Signer) error {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := key.Public().(equaler); !ok || !pk.Equal(chain[0].PublicKey) {
		return errors.New("the key is not the first certificate's key")
	}
	for i, c := range chain {
		if !c.IsCA || !c.BasicConstraintsValid {
			return fmt.Errorf("certificate %d (%s) is not a CA certificate", i+1, c.Subject)
		}
		parent := c
		if i+1 < len(chain) {
			parent = chain[i+1]
		}
		if err := c.CheckSignatureFrom(parent); err != nil {
			return fmt.Errorf("certificate %d (%s) is not signed by %s: %w", i+1, c.Subject, parent.Subject, err)
		}
	}
	return nil
}
