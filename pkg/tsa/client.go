package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"
)

// Client asks a timestamp authority for RFC 3161 timestamps over
// signatures, as cosign does: SHA-256 imprint, a random nonce, the signing
// certificate requested.
type Client struct {
	// URL is the authority's time-stamp endpoint, e.g.
	// https://tsa.example/api/v1/timestamp.
	URL  string
	HTTP *http.Client
}

// maxResponse bounds a time-stamp response.
const maxResponse = 1 << 20

// Timestamp returns the DER TimeStampResp over sig, after checking that it
// was granted and answers this request (imprint and nonce).
func (c *Client) Timestamp(ctx context.Context, sig []byte) ([]byte, error) {
	sum := sha256.Sum256(sig)
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	req, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:], Nonce: nonce, Certificates: true}).Marshal()
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(req))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("timestamp authority %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("timestamp authority %s: reading the answer: %w", c.URL, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("timestamp authority %s answered %s: %s", c.URL, resp.Status, bytes.TrimSpace(body[:min(len(body), 512)]))
	}
	if len(body) > maxResponse {
		return nil, fmt.Errorf("timestamp authority %s: answer is over %d bytes", c.URL, maxResponse)
	}
	ts, err := timestamp.ParseResponse(body)
	if err != nil {
		return nil, fmt.Errorf("timestamp authority %s: %w", c.URL, err)
	}
	if !bytes.Equal(ts.HashedMessage, sum[:]) || ts.HashAlgorithm != crypto.SHA256 {
		return nil, fmt.Errorf("timestamp authority %s stamped another message", c.URL)
	}
	if ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
		return nil, fmt.Errorf("timestamp authority %s answered with another nonce (want %v, got %v)", c.URL, nonce, ts.Nonce)
	}
	return body, nil
}
