package ca

import (
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	"hallmark.dev/hallmark/pkg/cosign"
)

// principal is who a verified token names and what its certificate says.
type principal struct {
	// challenges are the messages a proof of possession may sign: Fulcio's
	// (the e-mail for email issuers, else sub), then the token's verified
	// e-mail, which is what sigstore-go's client signs whenever there is one.
	challenges []string
	email      string   // rfc822Name SAN
	uri        *url.URL // URI SAN
	username   string   // OtherName SAN (.7)
	ext        cosign.CertExtensions
}

// IdentityError is a token whose claims do not make an identity for its
// issuer's type (HTTP 400).
type IdentityError struct{ Reason string }

func (e *IdentityError) Error() string { return e.Reason }

func identityErr(format string, args ...any) error {
	return &IdentityError{Reason: fmt.Sprintf(format, args...)}
}

// principalFor maps a verified token's claims to an identity under iss.
func (c *Config) principalFor(iss Issuer, tokenIssuer, sub string, claims map[string]any) (*principal, error) {
	p := &principal{ext: cosign.CertExtensions{Issuer: tokenIssuer, TokenSubject: sub}}
	email, verified := emailClaim(claims)
	switch iss.Type {
	case TypeEmail:
		if email == "" {
			return nil, identityErr("token has no email claim, which an email issuer needs")
		}
		if !verified && !iss.SkipEmailVerification {
			return nil, identityErr("token's email %q is not verified (email_verified is not true)", email)
		}
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			return nil, identityErr("token's email claim %q is not an e-mail address", email)
		}
		p.email = email
		p.challenges = []string{email}
		if iss.IssuerClaim != "" {
			v, err := jsonPath(claims, iss.IssuerClaim)
			if err != nil {
				return nil, identityErr("issuer-claim %s: %v", iss.IssuerClaim, err)
			}
			p.ext.Issuer = v
		}
	case TypeURI:
		if isEmail(sub) {
			return nil, identityErr("sub %q is an e-mail address, not a URI", sub)
		}
		u, err := url.Parse(sub)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, identityErr("sub %q is not a URI", sub)
		}
		if err := sameHost(iss.SubjectDomain, sub); err != nil {
			return nil, identityErr("sub %q: its scheme and host must be those of %s", sub, iss.SubjectDomain)
		}
		p.uri = u
	case TypeUsername:
		if sub == "" || strings.Contains(sub, "!") || isEmail(sub) {
			return nil, identityErr("sub %q is not a user name (no '!', not an e-mail address)", sub)
		}
		p.username = sub + "!" + iss.SubjectDomain
	case TypeKubernetes:
		ns, sa, err := kubernetesClaims(claims)
		if err != nil {
			return nil, err
		}
		p.uri = &url.URL{Scheme: "https", Host: "kubernetes.io", Path: "/namespaces/" + ns + "/serviceaccounts/" + sa}
	case TypeSPIFFE:
		u, err := url.Parse(sub)
		if err != nil || u.Scheme != "spiffe" || u.Host != iss.SPIFFETrustDomain || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Port() != "" {
			return nil, identityErr("sub %q is not a SPIFFE ID in trust domain %s", sub, iss.SPIFFETrustDomain)
		}
		p.uri = u
	case TypeGitHubWorkflow, TypeCIProvider:
		meta := c.CIIssuerMetadata[iss.CIProvider]
		if iss.Type == TypeGitHubWorkflow {
			meta = c.CIIssuerMetadata[string(TypeGitHubWorkflow)]
		}
		if err := c.ciPrincipal(p, meta, claims); err != nil {
			return nil, err
		}
	default:
		return nil, identityErr("issuer type %q is not supported", iss.Type)
	}
	if p.uri != nil {
		if u := p.uri.String(); !isIA5(u) {
			return nil, identityErr("certificate identity %q is not ASCII, which a certificate's URI name cannot hold", u)
		}
	}
	if p.username != "" && !isIA5(p.username) {
		return nil, identityErr("user name %q is not ASCII", p.username)
	}
	if p.challenges == nil {
		p.challenges = []string{sub}
	}
	if email != "" && verified && email != p.challenges[0] {
		p.challenges = append(p.challenges, email)
	}
	return p, nil
}

// ciPrincipal renders a CI provider's SAN and extensions from the claims.
func (c *Config) ciPrincipal(p *principal, meta CIMetadata, claims map[string]any) error {
	data := make(map[string]string, len(claims)+len(meta.DefaultTemplateValues))
	for k, v := range meta.DefaultTemplateValues {
		data[k] = v
	}
	for k, v := range claims {
		if s, ok := flatten(v); ok {
			data[k] = s
		}
	}
	san, err := render(meta.SubjectAlternativeNameTemplate, data)
	if err != nil {
		return identityErr("certificate identity: %v", err)
	}
	u, err := url.Parse(san)
	if err != nil || u.Scheme == "" {
		return identityErr("certificate identity %q is not a URI", san)
	}
	p.uri = u
	for name, tmpl := range meta.ExtensionTemplates {
		if tmpl == "" {
			continue
		}
		v, err := render(tmpl, data)
		if err != nil {
			return identityErr("extension %s: %v", name, err)
		}
		f, _ := extensionField(name)
		*f(&p.ext) = v
	}
	return nil
}

// flatten prints a claim as Fulcio does (%v, whole floats as integers);
// objects and arrays are left out.
func flatten(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), true
		}
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case nil:
		return "", false
	}
	return "", false
}

func emailClaim(claims map[string]any) (string, bool) {
	email, _ := claims["email"].(string)
	switch v := claims["email_verified"].(type) {
	case bool:
		return email, v
	case string:
		return email, v == "true" || v == "True"
	}
	return email, false
}

func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

func kubernetesClaims(claims map[string]any) (string, string, error) {
	k, ok := claims["kubernetes.io"].(map[string]any)
	if !ok {
		return "", "", identityErr("token has no kubernetes.io claim")
	}
	ns, _ := k["namespace"].(string)
	sa, _ := k["serviceaccount"].(map[string]any)
	name, _ := sa["name"].(string)
	if ns == "" || name == "" || strings.ContainsAny(ns+name, "/?#") {
		return "", "", identityErr("token's kubernetes.io claim needs a namespace and serviceaccount.name")
	}
	return ns, name, nil
}

// jsonPath reads a "$.a.b" path of string claims.
func jsonPath(claims map[string]any, path string) (string, error) {
	if !strings.HasPrefix(path, "$.") {
		return "", fmt.Errorf("path must start with $.")
	}
	var cur any = claims
	for _, part := range strings.Split(path[2:], ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", fmt.Errorf("claim not found")
		}
		cur = m[part]
	}
	s, ok := cur.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("claim not found or not a string")
	}
	return s, nil
}

// isIA5 reports whether s fits an IA5String, as certificate names must.
func isIA5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
