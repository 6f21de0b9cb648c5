package trust

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
)

// Material is everything a verifier trusts.
type Material struct {
	Logs   []Log // transparency logs (Rekor v1 and v2)
	CTLogs []Log // certificate transparency logs
	CAs    []CA  // certificate authorities issuing signing certificates
	TSAs   []TSA // RFC 3161 timestamp authorities
}

// Log is a transparency or certificate-transparency log's key.
type Log struct {
	BaseURL string
	// ID is the log ID entries and SCTs name it by: the trusted root's
	// logId, by default the SHA-256 of the key's PKIX DER encoding.
	ID  []byte
	Key crypto.PublicKey
	// CheckpointKeyID is the signed-note key ID of the log's checkpoint
	// signatures (4 bytes), when the trusted root gives it.
	CheckpointKeyID []byte
	Window
}

// Origin is the name a Rekor v2 log signs its checkpoints under: its base
// URL's host (and path, if any).
func (l *Log) Origin() string {
	u, err := url.Parse(l.BaseURL)
	if err != nil || u.Host == "" {
		return strings.TrimSuffix(l.BaseURL, "/")
	}
	return u.Host + strings.TrimSuffix(u.Path, "/")
}

// CA is a certificate authority: the trust anchor that ends its chain and
// the intermediates between it and the certificates it issues.
type CA struct {
	URI           string
	Root          *x509.Certificate
	Intermediates []*x509.Certificate
	Window
}

// TSA is a timestamp authority: its signing certificate (when the trusted
// root names it), intermediates and trust anchor.
type TSA struct {
	URI           string
	Leaf          *x509.Certificate
	Intermediates []*x509.Certificate
	Root          *x509.Certificate
	Window
}

// FindLog returns the transparency log with this log ID.
func (m *Material) FindLog(id []byte) *Log { return find(m.Logs, id) }

// FindCTLog returns the certificate-transparency log with this log ID.
func (m *Material) FindCTLog(id []byte) *Log { return find(m.CTLogs, id) }

func find(logs []Log, id []byte) *Log {
	for i := range logs {
		if bytes.Equal(logs[i].ID, id) {
			return &logs[i]
		}
	}
	return nil
}

// FromTrustedRoot parses a Sigstore trusted root. Every key and certificate
// must parse: a trusted root that cannot be read whole is refused, never
// half-trusted.
func FromTrustedRoot(tr *prototrustroot.TrustedRoot) (*Material, error) {
	m := &Material{}
	var err error
	if m.Logs, err = logs("tlog", tr.GetTlogs()); err != nil {
		return nil, err
	}
	if m.CTLogs, err = logs("ctlog", tr.GetCtlogs()); err != nil {
		return nil, err
	}
	for i, ca := range tr.GetCertificateAuthorities() {
		certs, err := chain(ca.GetCertChain())
		if err != nil {
			return nil, fmt.Errorf("certificate authority %d (%s): %w", i, ca.GetUri(), err)
		}
		n := len(certs)
		m.CAs = append(m.CAs, CA{URI: ca.GetUri(), Root: certs[n-1], Intermediates: certs[:n-1], Window: window(ca.GetValidFor())})
	}
	for i, ta := range tr.GetTimestampAuthorities() {
		certs, err := chain(ta.GetCertChain())
		if err != nil {
			return nil, fmt.Errorf("timestamp authority %d (%s): %w", i, ta.GetUri(), err)
		}
		t := TSA{URI: ta.GetUri(), Root: certs[len(certs)-1], Window: window(ta.GetValidFor())}
		if len(certs) > 1 {
			t.Leaf, t.Intermediates = certs[0], certs[1:len(certs)-1]
		}
		m.TSAs = append(m.TSAs, t)
	}
	return m, nil
}

func logs(what string, in []*prototrustroot.TransparencyLogInstance) ([]Log, error) {
	var out []Log
	for i, t := range in {
		pk := t.GetPublicKey()
		if len(pk.GetRawBytes()) == 0 {
			return nil, fmt.Errorf("%s %d (%s): no public key", what, i, t.GetBaseUrl())
		}
		key, err := parseKey(pk)
		if err != nil {
			return nil, fmt.Errorf("%s %d (%s): public key: %w", what, i, t.GetBaseUrl(), err)
		}
		vf := pk.GetValidFor()
		if vf.GetStart() == nil {
			// protobuf-specs: a key's validity MUST have a start. Without
			// one, nothing can say which entries the key may vouch for.
			return nil, fmt.Errorf("%s %d (%s): public key has no validFor.start", what, i, t.GetBaseUrl())
		}
		id := t.GetLogId().GetKeyId()
		if len(id) == 0 {
			sum := sha256.Sum256(pk.GetRawBytes())
			id = sum[:]
		}
		out = append(out, Log{
			BaseURL: t.GetBaseUrl(), ID: id, Key: key,
			CheckpointKeyID: t.GetCheckpointKeyId().GetKeyId(),
			Window:          window(vf),
		})
	}
	return out, nil
}

// parseKey reads a trusted root key: PKIX DER, or PKCS#1 DER for the RSA
// key details that say so.
func parseKey(pk *protocommon.PublicKey) (crypto.PublicKey, error) {
	switch pk.GetKeyDetails() {
	case protocommon.PublicKeyDetails_PKCS1_RSA_PKCS1V5, protocommon.PublicKeyDetails_PKCS1_RSA_PSS:
		return x509.ParsePKCS1PublicKey(pk.GetRawBytes())
	}
	return x509.ParsePKIXPublicKey(pk.GetRawBytes())
}

func chain(c *protocommon.X509CertificateChain) ([]*x509.Certificate, error) {
	if len(c.GetCertificates()) == 0 {
		return nil, errors.New("empty certificate chain")
	}
	var out []*x509.Certificate
	for j, raw := range c.GetCertificates() {
		cert, err := x509.ParseCertificate(raw.GetRawBytes())
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", j, err)
		}
		out = append(out, cert)
	}
	return out, nil
}

func window(tr *protocommon.TimeRange) Window {
	var w Window
	if tr.GetStart() != nil {
		w.Start = tr.GetStart().AsTime()
	}
	if tr.GetEnd() != nil {
		w.End = tr.GetEnd().AsTime()
	}
	return w
}
