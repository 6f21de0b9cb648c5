package verify

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"

	"hallmark.dev/hallmark/pkg/trust"
)

// maxTimestamps caps the RFC 3161 timestamps read from one signature.
const maxTimestamps = 32

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// signedTime is a time an RFC 3161 timestamp authority vouches a signature
// existed at.
type signedTime struct {
	time time.Time
	tsa  string
}

// verifyTimestamps verifies every RFC 3161 timestamp response over sig and
// returns the times of those that verify, one per timestamp authority, and
// why the others did not. A timestamp that fails does not fail the
// signature: only the count of good ones matters (as in sigstore-go).
func (v *Verifier) verifyTimestamps(responses [][]byte, sig []byte) ([]signedTime, []string, error) {
	if len(responses) > maxTimestamps {
		return nil, nil, stepErr(ErrTimestamp, fmt.Sprintf("%d RFC 3161 timestamps, more than %d", len(responses), maxTimestamps), nil)
	}
	var (
		out  []signedTime
		errs []string
		seen = map[string]bool{}
	)
	for i, r := range responses {
		t, tsa, err := v.verifyTimestamp(r, sig)
		if err != nil {
			errs = append(errs, fmt.Sprintf("timestamp %d: %v", i, err))
			continue
		}
		if seen[tsa.URI] {
			continue
		}
		seen[tsa.URI] = true
		out = append(out, signedTime{time: t, tsa: tsaName(tsa)})
	}
	return out, errs, nil
}

// verifyTimestamp checks one timestamp response: it is granted, its message
// imprint is the hash of sig, and its signer chains to a timestamp authority
// of the trust material at the time it states, inside that authority's
// window.
func (v *Verifier) verifyTimestamp(resp, sig []byte) (time.Time, *trust.TSA, error) {
	// ParseResponse refuses anything but a granted response, and verifies
	// the token's signature when it embeds its signer's certificate.
	ts, err := timestamp.ParseResponse(resp)
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("not a valid RFC 3161 timestamp response: %v", err)
	}
	switch ts.HashAlgorithm {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return time.Time{}, nil, fmt.Errorf("message imprint uses %v; want SHA-256, SHA-384 or SHA-512", ts.HashAlgorithm)
	}
	h := ts.HashAlgorithm.New()
	h.Write(sig)
	if !bytes.Equal(h.Sum(nil), ts.HashedMessage) {
		return time.Time{}, nil, errors.New("message imprint is not the hash of this signature")
	}
	if len(v.trust.TSAs) == 0 {
		return time.Time{}, nil, errors.New("no timestamp authority is trusted (the trusted root lists none)")
	}
	var errs []string
	for i := range v.trust.TSAs {
		tsa := &v.trust.TSAs[i]
		if err := verifyTimestampSigner(ts, tsa); err != nil {
			errs = append(errs, fmt.Sprintf("TSA %s: %v", tsaName(tsa), err))
			continue
		}
		if !tsa.Window.Contains(ts.Time) {
			errs = append(errs, fmt.Sprintf("TSA %s: timestamp %s is outside its validity in the trusted root (%s)", tsaName(tsa), stamp(ts.Time), tsa.Window))
			continue
		}
		return ts.Time, tsa, nil
	}
	return time.Time{}, nil, fmt.Errorf("no trusted timestamp authority signed it: %s", strings.Join(errs, "; "))
}

// verifyTimestampSigner checks the token's signature and its signer
// against one TSA: the signer is the TSA's certificate (when the trusted root
// names it), a timestamping-only end-entity certificate, and chains to the
// TSA's root at the time of the timestamp.
func verifyTimestampSigner(ts *timestamp.Timestamp, tsa *trust.TSA) error {
	p7, err := pkcs7.Parse(ts.RawToken)
	if err != nil {
		return err
	}
	if len(p7.Certificates) == 0 {
		if tsa.Leaf == nil {
			return errors.New("the token embeds no certificate and the trusted root names no TSA certificate")
		}
		p7.Certificates = []*x509.Certificate{tsa.Leaf}
		if err := p7.Verify(); err != nil {
			return err
		}
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return errors.New("the token does not have exactly one signer")
	}
	if tsa.Leaf != nil && !signer.Equal(tsa.Leaf) {
		return errors.New("signed by a certificate other than the TSA's")
	}
	if err := checkTSALeaf(signer); err != nil {
		return err
	}
	if tsa.Root == nil {
		return errors.New("the trusted root gives this TSA no root certificate")
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(tsa.Root)
	for _, c := range tsa.Intermediates {
		inters.AddCert(c)
	}
	for _, c := range p7.Certificates {
		inters.AddCert(c)
	}
	_, err = signer.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inters, CurrentTime: ts.Time,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	return err
}

// checkTSALeaf: RFC 3161 2.3 — the signer is not a CA, and its extended key
// usage is critical and timeStamping alone.
func checkTSALeaf(c *x509.Certificate) error {
	if c.IsCA {
		return errors.New("the TSA signing certificate is a CA certificate")
	}
	critical := false
	for _, e := range c.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			critical = e.Critical
		}
	}
	if !critical {
		return errors.New("the TSA signing certificate's extended key usage is not critical")
	}
	if len(c.ExtKeyUsage) != 1 || len(c.UnknownExtKeyUsage) != 0 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
		return fmt.Errorf("the TSA signing certificate's extended key usage is %v, want timeStamping alone", ekuNames(c))
	}
	return nil
}

func tsaName(t *trust.TSA) string {
	switch {
	case t.URI != "":
		return t.URI
	case t.Leaf != nil:
		return caName(t.Leaf)
	case t.Root != nil:
		return caName(t.Root)
	}
	return "(unnamed)"
}
