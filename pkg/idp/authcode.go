package idp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// authRequest is an authorization request waiting on the consent page.
type authRequest struct {
	ID                                       string
	Client, RedirectURI, State, Nonce, Scope string
	Challenge                                string
	expires                                  time.Time
}

type authCode struct {
	req      *authRequest
	identity Identity
	expires  time.Time
}

// AuthorizeParams are an authorization endpoint's query (RFC 6749 §4.1.1,
// RFC 7636 §4.3).
type AuthorizeParams struct {
	ResponseType, ClientID, RedirectURI, Scope, State, Nonce string
	CodeChallenge, CodeChallengeMethod                       string
}

const consentTTL = 10 * time.Minute

// Authorize checks an authorization request and holds it for the consent
// page, returning its ID. Errors before the redirect URI is known good are
// shown to the user, never redirected (RFC 6749 §4.1.2.1).
func (p *Provider) Authorize(q AuthorizeParams) (string, error) {
	c, ok := p.clients[q.ClientID]
	if !ok {
		return "", invalidRequest(fmt.Sprintf("unknown client_id %q", q.ClientID))
	}
	if err := checkRedirect(q.RedirectURI); err != nil {
		return "", err
	}
	switch {
	case q.ResponseType != "code":
		return "", &Error{Code: "unsupported_response_type", Description: fmt.Sprintf("response_type %q: only \"code\" is supported", q.ResponseType), Status: 400}
	case q.CodeChallenge == "" && c.Secret == "":
		return "", invalidRequest("a public client must send a PKCE code_challenge (RFC 7636)")
	case q.CodeChallenge != "" && q.CodeChallengeMethod != "S256":
		return "", invalidRequest(fmt.Sprintf("code_challenge_method %q: only S256 is supported", q.CodeChallengeMethod))
	case q.CodeChallenge != "" && (len(q.CodeChallenge) != 43 || !isBase64URL(q.CodeChallenge)):
		return "", invalidRequest("code_challenge must be the 43-character base64url SHA-256 of the verifier")
	case !hasScope(q.Scope, "openid"):
		return "", &Error{Code: "invalid_scope", Description: "scope must include openid", Status: 400}
	case len(q.State) > maxParam || len(q.Nonce) > maxParam || len(q.Scope) > maxParam || len(q.RedirectURI) > maxParam:
		return "", invalidRequest(fmt.Sprintf("state, nonce, scope and redirect_uri are limited to %d bytes each", maxParam))
	}
	r := &authRequest{ID: randomID(), Client: q.ClientID, RedirectURI: q.RedirectURI, State: q.State, Nonce: q.Nonce,
		Scope: q.Scope, Challenge: q.CodeChallenge, expires: p.now().Add(consentTTL)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.room(len(p.pending)); err != nil {
		return "", err
	}
	p.pending[r.ID] = r
	return r.ID, nil
}

// Decide settles a held authorization request with the user's choice and
// returns where to send the browser: the redirect URI with a code, or with
// access_denied.
func (p *Provider) Decide(requestID, email string, approve bool) (string, error) {
	p.mu.Lock()
	r, ok := p.pending[requestID]
	delete(p.pending, requestID)
	p.mu.Unlock()
	if !ok || p.now().After(r.expires) {
		return "", invalidRequest("this sign-in request is unknown, used or expired; start again")
	}
	u, _ := url.Parse(r.RedirectURI)
	q := u.Query()
	if r.State != "" {
		q.Set("state", r.State)
	}
	if !approve {
		q.Set("error", "access_denied")
		q.Set("error_description", "the user declined")
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	id, ok := p.Identity(email)
	if !ok {
		return "", invalidRequest(fmt.Sprintf("%q is not a configured identity", email))
	}
	code := randomID()
	p.mu.Lock()
	if err := p.room(len(p.codes)); err != nil {
		p.mu.Unlock()
		return "", err
	}
	p.codes[code] = &authCode{req: r, identity: id, expires: p.now().Add(time.Minute)}
	p.mu.Unlock()
	q.Set("code", code)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ExchangeCode redeems an authorization code (once) for an ID token.
func (p *Provider) ExchangeCode(clientID, secret, code, redirectURI, verifier string) (string, error) {
	c, err := p.authenticate(clientID, secret)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	ac, ok := p.codes[code]
	delete(p.codes, code) // a code is good once, right or wrong
	p.mu.Unlock()
	switch {
	case !ok || p.now().After(ac.expires):
		return "", invalidGrant("authorization code is unknown, used or expired")
	case ac.req.Client != c.ID:
		return "", invalidGrant("authorization code was issued to another client")
	case ac.req.RedirectURI != redirectURI:
		return "", invalidGrant("redirect_uri differs from the authorization request's")
	case ac.req.Challenge != "" && !pkceMatches(ac.req.Challenge, verifier):
		return "", invalidGrant("code_verifier does not match the code_challenge")
	}
	return p.EmailToken(ac.identity, c.ID, ac.req.Nonce)
}

// Pending returns a held authorization request, for the consent page.
func (p *Provider) Pending(id string) (client, redirect string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pending[id]
	if !ok || p.now().After(r.expires) {
		return "", "", false
	}
	return r.Client, r.RedirectURI, true
}

func pkceMatches(challenge, verifier string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// checkRedirect allows loopback redirect URIs on any port (RFC 8252 §7.3),
// which is what native clients such as cosign listen on.
func checkRedirect(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return invalidRequest(fmt.Sprintf("redirect_uri %q is not a URL", raw))
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if u.Scheme != "http" || u.Fragment != "" || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return invalidRequest(fmt.Sprintf("redirect_uri %q: only http loopback redirects (localhost, 127.0.0.1, [::1]) are allowed", raw))
	}
	return nil
}

func hasScope(scope, want string) bool {
	for _, s := range strings.Fields(scope) {
		if s == want {
			return true
		}
	}
	return false
}

func isBase64URL(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Bounds on what unauthenticated callers can make the provider hold.
const (
	maxParam   = 512    // bytes of state, nonce, scope, redirect_uri
	maxPending = 10_000 // sign-ins, codes, device grants or runs at once
)

// room makes space for one more entry in a map of n: expired entries are
// swept every 256 insertions, or when the map is full; a map still full is
// a 503. Callers hold p.mu.
func (p *Provider) room(n int) error {
	p.inserts++
	if p.inserts%256 == 0 || n >= maxPending {
		p.gc()
	}
	if n >= maxPending {
		return &Error{Code: "temporarily_unavailable", Description: "too many sign-ins in progress; retry shortly", Status: 503}
	}
	return nil
}

// gc drops expired requests, codes and device grants. Callers hold p.mu.
func (p *Provider) gc() {
	now := p.now()
	for k, r := range p.pending {
		if now.After(r.expires) {
			delete(p.pending, k)
		}
	}
	for k, c := range p.codes {
		if now.After(c.expires) {
			delete(p.codes, k)
		}
	}
	for k, d := range p.devices {
		if now.After(d.expires) {
			delete(p.devices, k)
			delete(p.users, d.userCode)
		}
	}
	for k, r := range p.runs {
		if now.After(r.expires) {
			delete(p.runs, k)
		}
	}
}
