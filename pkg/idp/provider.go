package idp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Identity is a person the provider can vouch for.
type Identity struct {
	Email   string `json:"email"`
	Subject string `json:"subject,omitempty"` // default: the e-mail address
	Name    string `json:"name,omitempty"`
}

// Client is an OAuth client. A client with a secret is confidential and may
// use the client-credentials grant and register workflow runs; one without
// is public and must use PKCE.
type Client struct {
	ID     string `json:"id"`
	Secret string `json:"secret,omitempty"`
}

// Config configures a Provider.
type Config struct {
	// Issuer is the provider's URL, the "iss" of its tokens. Workflow tokens
	// are issued by Issuer + "/github".
	Issuer     string
	Key        crypto.Signer // ES256 (P-256), RS256 or EdDSA
	TokenTTL   time.Duration // default 10 minutes
	Clients    []Client
	Identities []Identity
	// DeviceInterval is the polling interval the device grant asks for
	// (RFC 8628 §3.2; default 5 s).
	DeviceInterval time.Duration
	Clock          func() time.Time
}

// Provider issues ID tokens. It is safe for concurrent use.
type Provider struct {
	issuer   string
	signer   jose.Signer
	jwks     jose.JSONWebKeySet
	ttl      time.Duration
	interval time.Duration
	now      func() time.Time
	clients  map[string]Client
	idents   []Identity

	mu      sync.Mutex
	pending map[string]*authRequest // consent page requests by ID
	codes   map[string]*authCode
	devices map[string]*deviceGrant // by device code
	users   map[string]string       // user code → device code
	runs    map[string]*Run         // by request token
	inserts int                     // insertions since start, to sweep every so often
}

// New returns a provider for cfg.
func New(cfg Config) (*Provider, error) {
	if cfg.Issuer == "" || strings.HasSuffix(cfg.Issuer, "/") {
		return nil, fmt.Errorf("idp: issuer %q must be a URL without a trailing slash", cfg.Issuer)
	}
	if cfg.Key == nil {
		return nil, errors.New("idp: no signing key")
	}
	jwk := jose.JSONWebKey{Key: cfg.Key.Public(), Use: "sig"}
	alg, err := algorithm(cfg.Key)
	if err != nil {
		return nil, err
	}
	jwk.Algorithm = string(alg)
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("idp: key thumbprint: %w", err)
	}
	jwk.KeyID = hex.EncodeToString(thumb[:16])
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: cfg.Key, KeyID: jwk.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	p := &Provider{
		issuer: cfg.Issuer, signer: signer, jwks: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}},
		ttl: cfg.TokenTTL, interval: cfg.DeviceInterval, now: cfg.Clock, clients: map[string]Client{},
		pending: map[string]*authRequest{}, codes: map[string]*authCode{}, devices: map[string]*deviceGrant{},
		users: map[string]string{}, runs: map[string]*Run{},
	}
	if p.ttl <= 0 {
		p.ttl = 10 * time.Minute
	}
	if p.interval <= 0 {
		p.interval = 5 * time.Second
	}
	if p.now == nil {
		p.now = time.Now
	}
	for _, c := range cfg.Clients {
		if c.ID == "" {
			return nil, errors.New("idp: a client needs an id")
		}
		p.clients[c.ID] = c
	}
	for _, id := range cfg.Identities {
		if _, err := mail.ParseAddress(id.Email); err != nil || strings.ContainsAny(id.Email, "<> ") {
			return nil, fmt.Errorf("idp: identity %q is not an e-mail address", id.Email)
		}
		if id.Subject == "" {
			id.Subject = id.Email
		}
		p.idents = append(p.idents, id)
	}
	if len(p.idents) == 0 {
		return nil, errors.New("idp: no identities configured")
	}
	return p, nil
}

func algorithm(k crypto.Signer) (jose.SignatureAlgorithm, error) {
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		}
	case *rsa.PublicKey:
		return jose.RS256, nil
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	}
	return "", fmt.Errorf("idp: unsupported signing key %T", k.Public())
}

// Issuer is the URL of the provider's e-mail identities.
func (p *Provider) Issuer() string { return p.issuer }

// GitHubIssuer is the URL of the provider's workflow identities.
func (p *Provider) GitHubIssuer() string { return p.issuer + GitHubPath }

// GitHubPath is where the workflow issuer lives under the provider's URL.
const GitHubPath = "/github"

// JWKS is the provider's public key set.
func (p *Provider) JWKS() jose.JSONWebKeySet { return p.jwks }

// Identities are the configured identities, in order.
func (p *Provider) Identities() []Identity { return p.idents }

// Identity returns the configured identity with this e-mail address.
func (p *Provider) Identity(email string) (Identity, bool) {
	for _, id := range p.idents {
		if strings.EqualFold(id.Email, email) {
			return id, true
		}
	}
	return Identity{}, false
}

// sign mints a token from iss for aud with claims (standard ones filled in).
func (p *Provider) sign(iss, sub string, aud []string, claims map[string]any) (string, error) {
	now := p.now()
	std := jwt.Claims{
		Issuer: iss, Subject: sub, Audience: jwt.Audience(aud),
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-30 * time.Second)),
		Expiry: jwt.NewNumericDate(now.Add(p.ttl)), ID: randomID(),
	}
	return jwt.Signed(p.signer).Claims(std).Claims(claims).Serialize()
}

// EmailToken mints an ID token for a configured identity.
func (p *Provider) EmailToken(id Identity, aud, nonce string) (string, error) {
	return p.emailToken(id, []string{aud}, nonce)
}

func (p *Provider) emailToken(id Identity, aud []string, nonce string) (string, error) {
	claims := map[string]any{"email": id.Email, "email_verified": true}
	if id.Name != "" {
		claims["name"] = id.Name
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	return p.sign(p.issuer, id.Subject, aud, claims)
}

// TTL is how long the provider's tokens live.
func (p *Provider) TTL() time.Duration { return p.ttl }

// authenticate checks a client's credentials; public clients pass with
// no secret.
func (p *Provider) authenticate(id, secret string) (Client, error) {
	c, ok := p.clients[id]
	if !ok {
		return Client{}, &Error{Code: "invalid_client", Description: fmt.Sprintf("unknown client %q", id), Status: 401}
	}
	if c.Secret != "" && subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return Client{}, &Error{Code: "invalid_client", Description: fmt.Sprintf("wrong secret for client %q", id), Status: 401}
	}
	return c, nil
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
