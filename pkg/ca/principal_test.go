package ca

import (
	"errors"
	"testing"
)

// TestPrincipalRefusals: claims that make no certificate identity for the
// issuer's type are refused as identity errors (400), never issued.
func TestPrincipalRefusals(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"OIDCIssuers":{
		"https://uri.example":{"ClientID":"sigstore","Type":"uri","SubjectDomain":"https://uri.example"},
		"https://user.example":{"ClientID":"sigstore","Type":"username","SubjectDomain":"user.example"},
		"https://mail.example":{"ClientID":"sigstore","Type":"email"},
		"https://spiffe.example":{"ClientID":"sigstore","Type":"spiffe","SPIFFETrustDomain":"td.example"},
		"https://ci.example":{"ClientID":"sigstore","Type":"ci-provider","CIProvider":"github-workflow"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		iss, sub string
		claims   map[string]any
	}{
		"uri: non-ASCII query":       {"https://uri.example", "https://uri.example/a?é", nil},
		"uri: another host":          {"https://uri.example", "https://evil.example/a", nil},
		"uri: an e-mail address":     {"https://uri.example", "a@uri.example", nil},
		"username: with !":           {"https://user.example", "a!b", nil},
		"email: unverified":          {"https://mail.example", "x", map[string]any{"email": "a@example.com", "email_verified": false}},
		"email: none":                {"https://mail.example", "x", map[string]any{}},
		"email: display name":        {"https://mail.example", "x", map[string]any{"email": "A <a@example.com>", "email_verified": true}},
		"spiffe: other trust domain": {"https://spiffe.example", "spiffe://other.example/w", nil},
		"ci: missing claim":          {"https://ci.example", "repo:o/r:ref:refs/heads/main", map[string]any{"repository": "o/r"}},
	} {
		iss, _ := cfg.Lookup(c.iss)
		claims := c.claims
		if claims == nil {
			claims = map[string]any{}
		}
		_, err := cfg.principalFor(iss, c.iss, c.sub, claims)
		var ie *IdentityError
		if !errors.As(err, &ie) {
			t.Errorf("%s: got %v, want an identity error", name, err)
		}
	}
	// And the ones that make an identity.
	iss, _ := cfg.Lookup("https://user.example")
	if p, err := cfg.principalFor(iss, "https://user.example", "bob", map[string]any{}); err != nil || p.username != "bob!user.example" {
		t.Errorf("username: %+v, %v", p, err)
	}
}
