package ca

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// IssuerType says how a token's claims become a certificate's identity, as
// Fulcio's issuer types do.
type IssuerType string

// The issuer types Fulcio defines that Hallmark implements.
const (
	TypeEmail          IssuerType = "email"
	TypeURI            IssuerType = "uri"
	TypeUsername       IssuerType = "username"
	TypeKubernetes     IssuerType = "kubernetes"
	TypeSPIFFE         IssuerType = "spiffe"
	TypeGitHubWorkflow IssuerType = "github-workflow"
	TypeCIProvider     IssuerType = "ci-provider"
)

// Issuer is one trusted OIDC issuer, Fulcio's OIDCIssuer: JSON field names
// as Fulcio's JSON config, YAML names as its YAML config.
type Issuer struct {
	IssuerURL         string     `json:"IssuerURL,omitempty" yaml:"issuer-url,omitempty"`
	ClientID          string     `json:"ClientID" yaml:"client-id,omitempty"`
	Type              IssuerType `json:"Type" yaml:"type,omitempty"`
	CIProvider        string     `json:"CIProvider,omitempty" yaml:"ci-provider,omitempty"`
	IssuerClaim       string     `json:"IssuerClaim,omitempty" yaml:"issuer-claim,omitempty"`
	SubjectDomain     string     `json:"SubjectDomain,omitempty" yaml:"subject-domain,omitempty"`
	SPIFFETrustDomain string     `json:"SPIFFETrustDomain,omitempty" yaml:"spiffe-trust-domain,omitempty"`
	ChallengeClaim    string     `json:"ChallengeClaim,omitempty" yaml:"challenge-claim,omitempty"`
	Description       string     `json:"Description,omitempty" yaml:"description,omitempty"`
	Contact           string     `json:"Contact,omitempty" yaml:"contact,omitempty"`
	// CACert is a PEM bundle trusted for the issuer's TLS (discovery, keys).
	CACert                string `json:"CACert,omitempty" yaml:"ca-cert,omitempty"`
	SkipEmailVerification bool   `json:"SkipEmailVerification,omitempty" yaml:"skip-email-verification,omitempty"`
}

// CIMetadata maps a CI provider's token claims to certificate extensions
// and the SAN: a template without "{{" names a claim, one with it is a Go
// template over the claims and DefaultTemplateValues.
type CIMetadata struct {
	DefaultTemplateValues          map[string]string `json:"DefaultTemplateValues,omitempty" yaml:"default-template-values,omitempty"`
	ExtensionTemplates             map[string]string `json:"ExtensionTemplates" yaml:"extension-templates,omitempty"`
	SubjectAlternativeNameTemplate string            `json:"SubjectAlternativeNameTemplate" yaml:"subject-alternative-name-template,omitempty"`
}

// Config is Fulcio's configuration file: exact issuers, meta issuers whose
// URL holds "*" wildcards, and CI provider metadata.
type Config struct {
	OIDCIssuers      map[string]Issuer     `json:"OIDCIssuers,omitempty" yaml:"oidc-issuers,omitempty"`
	MetaIssuers      map[string]Issuer     `json:"MetaIssuers,omitempty" yaml:"meta-issuers,omitempty"`
	CIIssuerMetadata map[string]CIMetadata `json:"CIIssuerMetadata,omitempty" yaml:"ci-issuer-metadata,omitempty"`

	metas []metaIssuer
}

type metaIssuer struct {
	pattern *regexp.Regexp
	issuer  Issuer
}

// ReadConfig reads a Fulcio configuration file, JSON or YAML.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig reads Fulcio's configuration, JSON or YAML, refusing unknown
// fields and issuers it cannot serve.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("JSON config: %w", err)
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("YAML config: %w", err)
		}
	}
	if err := c.prepare(); err != nil {
		return nil, err
	}
	return &c, nil
}

// prepare fills defaults and checks every issuer.
func (c *Config) prepare() error {
	if c.CIIssuerMetadata == nil {
		c.CIIssuerMetadata = map[string]CIMetadata{}
	}
	if _, ok := c.CIIssuerMetadata[string(TypeGitHubWorkflow)]; !ok {
		c.CIIssuerMetadata[string(TypeGitHubWorkflow)] = GitHubWorkflowMetadata()
	}
	for key, meta := range c.CIIssuerMetadata {
		for name := range meta.ExtensionTemplates {
			if _, ok := extensionField(name); !ok {
				return fmt.Errorf("ci-issuer-metadata %s: unknown extension %q", key, name)
			}
		}
	}
	for key, iss := range c.OIDCIssuers {
		if iss.IssuerURL == "" {
			iss.IssuerURL = key
		}
		if iss.IssuerURL != key {
			return fmt.Errorf("oidc-issuers %q: issuer-url %q differs from its key", key, iss.IssuerURL)
		}
		if err := c.checkIssuer(key, iss); err != nil {
			return err
		}
		c.OIDCIssuers[key] = iss
	}
	globs := make([]string, 0, len(c.MetaIssuers))
	for glob := range c.MetaIssuers {
		globs = append(globs, glob)
	}
	// The most specific (longest) glob is tried first, the same way at
	// every start.
	sort.Slice(globs, func(i, j int) bool {
		if len(globs[i]) != len(globs[j]) {
			return len(globs[i]) > len(globs[j])
		}
		return globs[i] < globs[j]
	})
	for _, glob := range globs {
		iss := c.MetaIssuers[glob]
		if err := c.checkIssuer(glob, iss); err != nil {
			return err
		}
		if iss.Type == TypeSPIFFE {
			return fmt.Errorf("meta issuer %q: spiffe issuers must be listed exactly", glob)
		}
		c.metas = append(c.metas, metaIssuer{pattern: metaRegexp(glob), issuer: iss})
	}
	if len(c.OIDCIssuers)+len(c.MetaIssuers) == 0 {
		return fmt.Errorf("no OIDC issuers configured")
	}
	return nil
}

func (c *Config) checkIssuer(key string, iss Issuer) error {
	u, err := url.Parse(strings.ReplaceAll(key, "*", "x"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("issuer %q is not an http(s) URL", key)
	}
	switch iss.Type {
	case TypeEmail, TypeKubernetes, TypeGitHubWorkflow:
		if iss.IssuerClaim != "" && iss.Type != TypeEmail {
			return fmt.Errorf("issuer %q: issuer-claim is only for email issuers", key)
		}
	case TypeURI, TypeUsername:
		if iss.SubjectDomain == "" {
			return fmt.Errorf("issuer %q of type %s needs subject-domain", key, iss.Type)
		}
		if iss.Type == TypeURI {
			if err := sameHost(iss.SubjectDomain, key); err != nil {
				return fmt.Errorf("issuer %q: %w", key, err)
			}
		}
	case TypeSPIFFE:
		if iss.SPIFFETrustDomain == "" {
			return fmt.Errorf("issuer %q of type spiffe needs spiffe-trust-domain", key)
		}
	case TypeCIProvider:
		if _, ok := c.CIIssuerMetadata[iss.CIProvider]; !ok {
			return fmt.Errorf("issuer %q: ci-provider %q has no ci-issuer-metadata", key, iss.CIProvider)
		}
	case "":
		return fmt.Errorf("issuer %q has no type", key)
	default:
		return fmt.Errorf("issuer %q: type %q is not supported (email, uri, username, kubernetes, spiffe, github-workflow, ci-provider)", key, iss.Type)
	}
	if iss.ClientID == "" {
		return fmt.Errorf("issuer %q has no client-id (the audience its tokens must carry)", key)
	}
	return nil
}

// metaRegexp turns a meta-issuer URL into a pattern: each "*" stands for
// one or more of [-_a-zA-Z0-9], as in Fulcio.
func metaRegexp(glob string) *regexp.Regexp {
	q := regexp.QuoteMeta(glob)
	return regexp.MustCompile("^" + strings.ReplaceAll(q, `\*`, `[-_a-zA-Z0-9]+`) + "$")
}

// Lookup returns the issuer configured for a token's iss: an exact entry,
// else the first meta issuer whose pattern matches.
func (c *Config) Lookup(iss string) (Issuer, bool) {
	if i, ok := c.OIDCIssuers[iss]; ok {
		return i, true
	}
	for _, m := range c.metas {
		if m.pattern.MatchString(iss) {
			i := m.issuer
			i.IssuerURL = iss
			return i, true
		}
	}
	return Issuer{}, false
}

// sameHost checks that a subject domain shares the issuer's scheme and host
// (Fulcio's rule for uri issuers).
func sameHost(domain, issuer string) error {
	d, err := url.Parse(domain)
	if err != nil {
		return err
	}
	i, err := url.Parse(issuer)
	if err != nil {
		return err
	}
	if d.Scheme != i.Scheme || d.Hostname() != i.Hostname() {
		return fmt.Errorf("subject-domain %q must share the issuer's scheme and host", domain)
	}
	return nil
}

// GitHubWorkflowMetadata is Fulcio's mapping of GitHub Actions claims.
func GitHubWorkflowMetadata() CIMetadata {
	return CIMetadata{
		DefaultTemplateValues: map[string]string{"url": "https://github.com", "environment": ""},
		ExtensionTemplates: map[string]string{
			"github-workflow-trigger":                 "event_name",
			"github-workflow-sha":                     "sha",
			"github-workflow-name":                    "workflow",
			"github-workflow-repository":              "repository",
			"github-workflow-ref":                     "ref",
			"build-signer-uri":                        "{{ .url }}/{{ .job_workflow_ref }}",
			"build-signer-digest":                     "job_workflow_sha",
			"runner-environment":                      "runner_environment",
			"source-repository-uri":                   "{{ .url }}/{{ .repository }}",
			"source-repository-digest":                "sha",
			"source-repository-ref":                   "ref",
			"source-repository-identifier":            "repository_id",
			"source-repository-owner-uri":             "{{ .url }}/{{ .repository_owner }}",
			"source-repository-owner-identifier":      "repository_owner_id",
			"build-config-uri":                        "{{ .url }}/{{ .workflow_ref }}",
			"build-config-digest":                     "workflow_sha",
			"build-trigger":                           "event_name",
			"run-invocation-uri":                      "{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}",
			"source-repository-visibility-at-signing": "repository_visibility",
			"deployment-environment":                  "environment",
		},
		SubjectAlternativeNameTemplate: "{{ .url }}/{{ .job_workflow_ref }}",
	}
}
