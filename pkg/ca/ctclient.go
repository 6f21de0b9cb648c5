package ca

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	ctclient "github.com/google/certificate-transparency-go/client"
	"github.com/google/certificate-transparency-go/jsonclient"
)

// NewCTClient returns the RFC 6962 client the CA logs precertificates
// through (certificate-transparency-go's), checking each SCT against the
// log's key pub.
func NewCTClient(url string, pub crypto.PublicKey, hc *http.Client) (CTLog, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("CT log key: %w", err)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c, err := ctclient.New(url, hc, jsonclient.Options{PublicKeyDER: der, UserAgent: "hallmark-ca"})
	if err != nil {
		return nil, fmt.Errorf("CT log %s: %w", url, err)
	}
	return c, nil
}
