package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/pki"
)

// Client asks a Fulcio-compatible CA (Fulcio itself, or Hallmark's) for
// signing certificates over its v2 REST API, as sigstore-go's client does.
type Client struct {
	URL  string // the CA's base URL
	HTTP *http.Client
}

// TokenClaims are the claims a client reads from an unverified token to
// know what to prove and whom it is signing as.
type TokenClaims struct {
	Issuer        string `json:"iss"`
	Subject       string `json:"sub"`
	Email         string `json:"email"`
	EmailVerified any    `json:"email_verified"`
	Expiry        int64  `json:"exp"`
}

// ParseUnverified reads a JWT's claims without checking its signature (the
// CA does that).
func ParseUnverified(raw string) (*TokenClaims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("identity token is not a JWT (want three dot-separated parts, got %d)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("identity token payload is not base64url: %w", err)
	}
	var c TokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("identity token payload: %w", err)
	}
	return &c, nil
}

// Challenge is what a proof of possession signs: the verified e-mail when
// the token has one, else sub (sigstore-go's rule).
func (c *TokenClaims) Challenge() (string, error) {
	if c.Email != "" {
		switch v := c.EmailVerified.(type) {
		case bool:
			if v {
				return c.Email, nil
			}
		case string:
			if v == "true" || v == "True" {
				return c.Email, nil
			}
		}
		return "", fmt.Errorf("identity token's email %q is not verified by its issuer", c.Email)
	}
	if c.Subject == "" {
		return "", errors.New("identity token has no sub claim")
	}
	return c.Subject, nil
}

// SigningCertificate asks for a certificate for key's public half, proving
// possession by signing the token's challenge. It returns the chain, leaf
// first.
func (c *Client) SigningCertificate(ctx context.Context, token string, key crypto.Signer) ([]*x509.Certificate, error) {
	claims, err := ParseUnverified(token)
	if err != nil {
		return nil, err
	}
	challenge, err := claims.Challenge()
	if err != nil {
		return nil, err
	}
	var proof []byte
	if _, ok := key.Public().(ed25519.PublicKey); ok {
		proof, err = key.Sign(nil, []byte(challenge), crypto.Hash(0))
	} else {
		proof, err = keys.Sign(key, []byte(challenge))
	}
	if err != nil {
		return nil, fmt.Errorf("signing the proof of possession: %w", err)
	}
	pubPEM, err := keys.MarshalPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]any{"publicKeyRequest": map[string]any{
		"publicKey":         map[string]string{"algorithm": algorithmName(key.Public()), "content": string(pubPEM)},
		"proofOfPossession": base64.StdEncoding.EncodeToString(proof),
	}})
	url := strings.TrimSuffix(c.URL, "/") + "/api/v2/signingCert"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("certificate authority %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("certificate authority %s: reading the answer: %w", c.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Message string }
		if json.Unmarshal(rb, &e) == nil && e.Message != "" {
			return nil, fmt.Errorf("certificate authority %s refused (%s): %s", c.URL, resp.Status, e.Message)
		}
		return nil, fmt.Errorf("certificate authority %s answered %s: %s", c.URL, resp.Status, bytes.TrimSpace(rb[:min(len(rb), 512)]))
	}
	var out struct {
		Embedded *struct {
			Chain struct{ Certificates []string } `json:"chain"`
		} `json:"signedCertificateEmbeddedSct"`
		Detached *struct {
			Chain struct{ Certificates []string } `json:"chain"`
		} `json:"signedCertificateDetachedSct"`
	}
	if err := json.Unmarshal(rb, &out); err != nil {
		return nil, fmt.Errorf("certificate authority %s: answer: %w", c.URL, err)
	}
	var pems []string
	switch {
	case out.Embedded != nil && len(out.Embedded.Chain.Certificates) > 0:
		pems = out.Embedded.Chain.Certificates
	case out.Detached != nil && len(out.Detached.Chain.Certificates) > 0:
		pems = out.Detached.Chain.Certificates
	default:
		return nil, fmt.Errorf("certificate authority %s answered no certificate", c.URL)
	}
	chain, err := pki.ParseCertificates([]byte(strings.Join(pems, "\n")))
	if err != nil {
		return nil, fmt.Errorf("certificate authority %s: %w", c.URL, err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := key.Public().(equaler); !ok || !pk.Equal(chain[0].PublicKey) {
		return nil, fmt.Errorf("certificate authority %s certified another key", c.URL)
	}
	return chain, nil
}

// algorithmName is what sigstore-go puts in publicKey.algorithm (Fulcio
// ignores it and reads the key).
func algorithmName(pub crypto.PublicKey) string {
	switch pub.(type) {
	case ed25519.PublicKey:
		return "ED25519"
	case *rsa.PublicKey:
		return "RSA"
	}
	return "ECDSA"
}
