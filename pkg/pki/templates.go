package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"hallmark.dev/hallmark/pkg/keys"
)

// SerialNumber returns a random positive serial number of at most 159 bits
// (RFC 5280 allows 20 octets; the top bit stays clear so DER needs no pad).
func SerialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return nil, err
	}
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	return n, nil
}

// SubjectKeyID is the RFC 5280 method 1 key identifier of pub: SHA-1 of its
// subjectPublicKey bits.
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return KeyIDOfSPKI(der)
}

// KeyIDOfSPKI is SubjectKeyID of a key already encoded as a DER
// SubjectPublicKeyInfo.
func KeyIDOfSPKI(spki []byte) ([]byte, error) {
	var (
		in, body cryptobyte.String = spki, nil
		key      asn1.BitString
	)
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !in.Empty() ||
		!body.SkipASN1(cbasn1.SEQUENCE) || !body.ReadASN1BitString(&key) || !body.Empty() {
		return nil, errors.New("pki: malformed SubjectPublicKeyInfo")
	}
	sum := sha1.Sum(key.Bytes)
	return sum[:], nil
}

// CASpec names a certificate authority's certificates.
type CASpec struct {
	Organization string
	CommonName   string // of the root; the intermediate is "<CommonName> intermediate"
	// Intermediate adds an intermediate under the root, which then signs leaves.
	Intermediate bool
	// ExtKeyUsage, when set, restricts the intermediate to these uses (Fulcio's
	// intermediates carry code signing; a TSA's, time stamping).
	ExtKeyUsage []x509.ExtKeyUsage
	// Validity of the root (the intermediate's ends a day earlier). Default 10 years.
	Validity time.Duration
}

// NewCA creates a root (and intermediate) for spec. It returns the chain,
// issuing certificate first and root last, and the issuing key; rootKey is
// the root's key when an intermediate issues.
func NewCA(spec CASpec, now time.Time) (chain []*x509.Certificate, issuer, rootKey crypto.Signer, err error) {
	if spec.Validity <= 0 {
		spec.Validity = 10 * 365 * 24 * time.Hour
	}
	rootKey, err = keys.Generate()
	if err != nil {
		return nil, nil, nil, err
	}
	notBefore := now.Add(-5 * time.Minute).UTC().Truncate(time.Second)
	root, err := issue(&x509.Certificate{
		Subject:               pkix.Name{Organization: []string{spec.Organization}, CommonName: spec.CommonName},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(spec.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}, nil, rootKey.Public(), rootKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("creating the root certificate: %w", err)
	}
	if !spec.Intermediate {
		return []*x509.Certificate{root}, rootKey, nil, nil
	}
	ik, err := keys.Generate()
	if err != nil {
		return nil, nil, nil, err
	}
	inter, err := issue(&x509.Certificate{
		Subject:               pkix.Name{Organization: []string{spec.Organization}, CommonName: spec.CommonName + " intermediate"},
		NotBefore:             notBefore,
		NotAfter:              root.NotAfter.Add(-24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           spec.ExtKeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}, root, ik.Public(), rootKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("creating the intermediate certificate: %w", err)
	}
	return []*x509.Certificate{inter, root}, ik, rootKey, nil
}

// Issue signs tmpl for pub under parent with parentKey, filling the serial
// number and key identifiers. A nil parent self-signs.
func Issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) (*x509.Certificate, error) {
	return issue(tmpl, parent, pub, parentKey)
}

func issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) (*x509.Certificate, error) {
	var err error
	if tmpl.SerialNumber == nil {
		if tmpl.SerialNumber, err = SerialNumber(); err != nil {
			return nil, err
		}
	}
	if tmpl.SubjectKeyId == nil {
		if tmpl.SubjectKeyId, err = SubjectKeyID(pub); err != nil {
			return nil, err
		}
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// CriticalEKU is an extended key usage extension marked critical, for
// x509.Certificate.ExtraExtensions (Go marks the one it writes non-critical;
// RFC 3161 wants a TSA's critical).
func CriticalEKU(oids ...asn1.ObjectIdentifier) pkix.Extension {
	v, err := asn1.Marshal(oids)
	if err != nil {
		panic(err) // OIDs always marshal
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: v}
}
