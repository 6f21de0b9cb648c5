package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	ct "github.com/google/certificate-transparency-go"
	ctx509 "github.com/google/certificate-transparency-go/x509"
)

// CTLog is where the CA logs precertificates: RFC 6962 add-pre-chain.
type CTLog interface {
	// AddPreChain submits chain (DER: the precertificate, then whatever
	// issuers the log wants) and returns the log's SCT, unchecked.
	AddPreChain(ctx context.Context, chain [][]byte) (*ct.SignedCertificateTimestamp, error)
	// PublicKey is the log's key: the CA checks every SCT against it.
	PublicKey() crypto.PublicKey
}

// LocalCTLog is a CT log in the CA's own process: it takes the
// precertificate with its TBS (poison removed) and issuer as the CA made
// them, and returns as soon as the entry has its place in the log. sct
// signs the entry's SCT, which the CA does not re-check; durable waits until
// the entry cannot be lost (both are set when err is nil). The CA calls
// durable on the goroutine that called LogPrecert (the log may sync the
// entry there) while another signs the SCT and the final certificate, and
// hands the certificate out only once durable has returned nil.
type LocalCTLog interface {
	CTLog
	LogPrecert(ctx context.Context, precert, tbs []byte, issuer *x509.Certificate) (sct func() (*ct.SignedCertificateTimestamp, error), durable func() error, err error)
}

// ctClient speaks RFC 6962 add-pre-chain over HTTP.
type ctClient struct {
	url string
	hc  *http.Client
	pub crypto.PublicKey
}

// NewCTClient returns a client for the RFC 6962 log at url (its prefix, as
// Fulcio's --ct-log-url), whose SCTs the CA checks against pub.
func NewCTClient(url string, pub crypto.PublicKey, hc *http.Client) (CTLog, error) {
	if _, err := ct.NewSignatureVerifier(pub); err != nil {
		return nil, fmt.Errorf("CT log key: %w", err)
	}
	if hc == nil {
		// Every issuance is a request to the log: keep enough connections
		// open for the CA's concurrency rather than Go's default two.
		hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second,
		}}
	}
	return &ctClient{url: strings.TrimSuffix(url, "/"), hc: hc, pub: pub}, nil
}

func (c *ctClient) PublicKey() crypto.PublicKey { return c.pub }

func (c *ctClient) AddPreChain(ctx context.Context, chain [][]byte) (*ct.SignedCertificateTimestamp, error) {
	body, err := json.Marshal(ct.AddChainRequest{Chain: chain})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+ct.AddPreChainPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("CT log %s: %w", c.url, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("CT log %s: %w", c.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("CT log %s answered %s: %s", c.url, resp.Status, bytes.TrimSpace(rb[:min(len(rb), 300)]))
	}
	var r ct.AddChainResponse
	if err := json.Unmarshal(rb, &r); err != nil {
		return nil, fmt.Errorf("CT log %s: answer: %w", c.url, err)
	}
	sct, err := r.ToSignedCertificateTimestamp()
	if err != nil {
		return nil, fmt.Errorf("CT log %s: SCT: %w", c.url, err)
	}
	return sct, nil
}

// checkSCT verifies that sct is the log's signature over the precertificate
// entry for tbs (the final certificate's TBS without the SCT list) issued by
// issuer, as verifiers will check it once embedded.
func checkSCT(log CTLog, sct *ct.SignedCertificateTimestamp, tbs []byte, issuer *x509.Certificate, now time.Time) error {
	der, err := x509.MarshalPKIXPublicKey(log.PublicKey())
	if err != nil {
		return err
	}
	if id := sha256.Sum256(der); id != sct.LogID.KeyID {
		return fmt.Errorf("the SCT names log %x, not the configured CT log %x", sct.LogID.KeyID, id)
	}
	if ts := time.UnixMilli(int64(sct.Timestamp)); ts.After(now.Add(time.Minute)) {
		return fmt.Errorf("the SCT is dated %s, in the future", ts.UTC().Format(time.RFC3339))
	}
	sv, err := ct.NewSignatureVerifier(log.PublicKey())
	if err != nil {
		return err
	}
	entry := ct.LogEntry{Leaf: ct.MerkleTreeLeaf{
		Version: ct.V1, LeafType: ct.TimestampedEntryLeafType,
		TimestampedEntry: &ct.TimestampedEntry{
			Timestamp: sct.Timestamp, EntryType: ct.PrecertLogEntryType, Extensions: sct.Extensions,
			PrecertEntry: &ct.PreCert{IssuerKeyHash: sha256.Sum256(issuer.RawSubjectPublicKeyInfo), TBSCertificate: tbs},
		},
	}}
	if err := sv.VerifySCTSignature(*sct, entry); err != nil {
		return fmt.Errorf("the SCT's signature does not verify under the CT log's key: %w", err)
	}
	return nil
}

// precertTBS is the TBS an SCT for precert signs: the precertificate's
// without the poison extension.
func precertTBS(precert []byte) ([]byte, error) {
	c, err := ctx509.ParseCertificate(precert)
	if err != nil && c == nil {
		return nil, err
	}
	tbs, err := ctx509.RemoveCTPoison(c.RawTBSCertificate)
	if err != nil {
		return nil, err
	}
	if len(tbs) == 0 {
		return nil, errors.New("empty TBS")
	}
	return tbs, nil
}
