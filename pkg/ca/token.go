package ca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TokenError is an identity token the CA does not accept (HTTP 401): its
// reason says which check failed.
type TokenError struct{ Reason string }

func (e *TokenError) Error() string { return e.Reason }

func tokenErr(format string, args ...any) error {
	return &TokenError{Reason: fmt.Sprintf(format, args...)}
}

// IssuerUnavailableError is an issuer whose discovery document or keys could
// not be fetched (HTTP 503: the token may be fine, retry later).
type IssuerUnavailableError struct {
	Issuer string
	Err    error
}

func (e *IssuerUnavailableError) Error() string {
	return fmt.Sprintf("OIDC issuer %s is unavailable: %v", e.Issuer, e.Err)
}

func (e *IssuerUnavailableError) Unwrap() error { return e.Err }

// maxTokenSize bounds an identity token; real ones are a few kilobytes.
const maxTokenSize = 64 << 10

// verifiers keeps one go-oidc verifier per issuer: discovery once, keys
// cached and refetched when a token names a key not yet seen.
type verifiers struct {
	cfg    *Config
	now    func() time.Time
	client *http.Client

	mu       sync.Mutex
	byURL    map[string]*oidc.IDTokenVerifier
	failed   map[string]time.Time     // discovery failures, not retried for a few seconds
	inFlight map[string]chan struct{} // discoveries under way: one per issuer
}

const (
	discoveryTimeout = 10 * time.Second
	failureBackoff   = 5 * time.Second
	maxVerifiers     = 256  // verifiers of meta issuers kept (exact ones always are)
	maxFailed        = 1024 // remembered discovery failures
)

func newVerifiers(cfg *Config, now func() time.Time, client *http.Client) *verifiers {
	if client == nil {
		client = &http.Client{Timeout: discoveryTimeout}
	}
	return &verifiers{cfg: cfg, now: now, client: client, byURL: map[string]*oidc.IDTokenVerifier{},
		failed: map[string]time.Time{}, inFlight: map[string]chan struct{}{}}
}

// unverifiedIssuer reads iss from a token's payload, to choose its verifier.
func unverifiedIssuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", tokenErr("identity token is not a JWT (want three dot-separated parts, got %d)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", tokenErr("identity token payload is not base64url: %v", err)
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", tokenErr("identity token payload is not JSON: %v", err)
	}
	if c.Iss == "" {
		return "", tokenErr("identity token has no iss claim")
	}
	return c.Iss, nil
}

// verify checks a token's signature, issuer, audience and expiry, and
// returns its issuer's configuration and its claims.
func (v *verifiers) verify(ctx context.Context, raw string) (Issuer, *oidc.IDToken, map[string]any, error) {
	if len(raw) > maxTokenSize {
		return Issuer{}, nil, nil, tokenErr("identity token is %d bytes, over the %d byte limit", len(raw), maxTokenSize)
	}
	issURL, err := unverifiedIssuer(raw)
	if err != nil {
		return Issuer{}, nil, nil, err
	}
	iss, ok := v.cfg.Lookup(issURL)
	if !ok {
		return Issuer{}, nil, nil, tokenErr("identity token issuer %q is not one this CA trusts", issURL)
	}
	ver, err := v.verifier(ctx, iss)
	if err != nil {
		return Issuer{}, nil, nil, err
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return Issuer{}, nil, nil, tokenErr("identity token expired at %s", exp.Expiry.UTC().Format(time.RFC3339))
		}
		if strings.Contains(err.Error(), "fetching keys") {
			return Issuer{}, nil, nil, &IssuerUnavailableError{Issuer: iss.IssuerURL, Err: err}
		}
		return Issuer{}, nil, nil, tokenErr("identity token from %s: %v", issURL, strings.TrimPrefix(err.Error(), "oidc: "))
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Issuer{}, nil, nil, tokenErr("identity token claims: %v", err)
	}
	if tok.Subject == "" {
		return Issuer{}, nil, nil, tokenErr("identity token has no sub claim")
	}
	return iss, tok, claims, nil
}

func (v *verifiers) verifier(ctx context.Context, iss Issuer) (*oidc.IDTokenVerifier, error) {
	for {
		v.mu.Lock()
		ver, ok := v.byURL[iss.IssuerURL]
		failedAt, failed := v.failed[iss.IssuerURL]
		wait, busy := v.inFlight[iss.IssuerURL]
		if !ok && !busy && !(failed && v.now().Sub(failedAt) < failureBackoff) {
			v.inFlight[iss.IssuerURL] = make(chan struct{})
		}
		v.mu.Unlock()
		switch {
		case ok:
			return ver, nil
		case busy: // another request is discovering this issuer: wait for it
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case failed && v.now().Sub(failedAt) < failureBackoff:
			return nil, &IssuerUnavailableError{Issuer: iss.IssuerURL, Err: errors.New("discovery failed moments ago")}
		}
		return v.discover(ctx, iss)
	}
}

// discover builds the verifier of one issuer; the caller has marked it in
// flight.
func (v *verifiers) discover(ctx context.Context, iss Issuer) (*oidc.IDTokenVerifier, error) {
	var ver *oidc.IDTokenVerifier
	defer func() {
		v.mu.Lock()
		close(v.inFlight[iss.IssuerURL])
		delete(v.inFlight, iss.IssuerURL)
		v.mu.Unlock()
	}()
	client := v.client
	if iss.CACert != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(iss.CACert)) {
			return nil, fmt.Errorf("issuer %s: ca-cert holds no PEM certificate", iss.IssuerURL)
		}
		client = &http.Client{Timeout: discoveryTimeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), client), discoveryTimeout)
	defer cancel()
	provider, err := oidc.NewProvider(dctx, iss.IssuerURL)
	if err != nil {
		v.mu.Lock()
		if len(v.failed) >= maxFailed {
			for k, at := range v.failed {
				if v.now().Sub(at) >= failureBackoff || len(v.failed) >= maxFailed {
					delete(v.failed, k)
				}
			}
		}
		v.failed[iss.IssuerURL] = v.now()
		v.mu.Unlock()
		return nil, &IssuerUnavailableError{Issuer: iss.IssuerURL, Err: err}
	}
	// The verifier's key set fetches with the client in this context; keep
	// it alive past this request.
	ver = provider.VerifierContext(oidc.ClientContext(context.Background(), client), &oidc.Config{ClientID: iss.ClientID, Now: v.now})
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, exact := v.cfg.OIDCIssuers[iss.IssuerURL]; !exact && v.metaVerifiers() >= maxVerifiers {
		// Meta issuers could otherwise grow this without bound; an exact
		// issuer's verifier is never the one dropped.
		for k := range v.byURL {
			if _, isExact := v.cfg.OIDCIssuers[k]; !isExact {
				delete(v.byURL, k)
				break
			}
		}
	}
	v.byURL[iss.IssuerURL] = ver
	delete(v.failed, iss.IssuerURL)
	return ver, nil
}

// metaVerifiers counts cached verifiers of meta issuers. Callers hold v.mu.
func (v *verifiers) metaVerifiers() int {
	n := 0
	for k := range v.byURL {
		if _, exact := v.cfg.OIDCIssuers[k]; !exact {
			n++
		}
	}
	return n
}
