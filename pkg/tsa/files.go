package tsa

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/pki"
)

var oidTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}

// LoadOrCreate returns the signing key and chain kept in dir (key.pem,
// chain.pem: leaf, then root), creating a root and a time-stamping leaf
// there on first use.
func LoadOrCreate(dir, organization string) (crypto.Signer, []*x509.Certificate, error) {
	chainPath, keyPath := filepath.Join(dir, pki.ChainFile), filepath.Join(dir, pki.KeyFile)
	chain, err := pki.ReadCertificates(chainPath)
	if err == nil {
		key, err := pki.ReadKey(keyPath, nil)
		if err != nil {
			return nil, nil, err
		}
		return key, chain, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	root, rootKey, _, err := pki.LoadOrCreateCA(filepath.Join(dir, "root"), pki.CASpec{
		Organization: organization, CommonName: organization + " TSA root",
	})
	if err != nil {
		return nil, nil, err
	}
	key, err := keys.Generate()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().Add(-5 * time.Minute).UTC().Truncate(time.Second)
	leaf, err := pki.Issue(&x509.Certificate{
		Subject:               pkix.Name{Organization: []string{organization}, CommonName: organization + " timestamp authority"},
		NotBefore:             now,
		NotAfter:              root[0].NotAfter.Add(-24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtraExtensions:       []pkix.Extension{pki.CriticalEKU(oidTimeStamping)},
		BasicConstraintsValid: true,
	}, root[0], key.Public(), rootKey)
	if err != nil {
		return nil, nil, err
	}
	kb, err := pki.MarshalKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := pki.WriteFileAtomic(keyPath, kb, 0o600); err != nil {
		return nil, nil, err
	}
	chain = append([]*x509.Certificate{leaf}, root...)
	if err := pki.WriteFileAtomic(chainPath, pki.EncodeCertificates(chain...), 0o644); err != nil {
		return nil, nil, err
	}
	return key, chain, os.Chmod(dir, 0o700)
}
