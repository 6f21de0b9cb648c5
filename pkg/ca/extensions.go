package ca

import (
	"fmt"
	"strings"
	"text/template"

	"hallmark.dev/hallmark/pkg/cosign"
)

// extensionNames maps Fulcio's extension template names, YAML (kebab-case)
// and JSON (its Go field names) alike, to the field they fill.
var extensionNames = map[string]func(*cosign.CertExtensions) *string{
	"github-workflow-trigger":                 func(e *cosign.CertExtensions) *string { return &e.GithubWorkflowTrigger },
	"github-workflow-sha":                     func(e *cosign.CertExtensions) *string { return &e.GithubWorkflowSHA },
	"github-workflow-name":                    func(e *cosign.CertExtensions) *string { return &e.GithubWorkflowName },
	"github-workflow-repository":              func(e *cosign.CertExtensions) *string { return &e.GithubWorkflowRepository },
	"github-workflow-ref":                     func(e *cosign.CertExtensions) *string { return &e.GithubWorkflowRef },
	"build-signer-uri":                        func(e *cosign.CertExtensions) *string { return &e.BuildSignerURI },
	"build-signer-digest":                     func(e *cosign.CertExtensions) *string { return &e.BuildSignerDigest },
	"runner-environment":                      func(e *cosign.CertExtensions) *string { return &e.RunnerEnvironment },
	"source-repository-uri":                   func(e *cosign.CertExtensions) *string { return &e.SourceRepositoryURI },
	"source-repository-digest":                func(e *cosign.CertExtensions) *string { return &e.SourceRepositoryDigest },
	"source-repository-ref":                   func(e *cosign.CertExtensions) *string { return &e.SourceRepositoryRef },
	"source-repository-identifier":            func(e *cosign.CertExtensions) *string { return &e.SourceRepositoryIdentifier },
	"source-repository-owner-uri":             func(e *cosign.CertExtensions) *string { return &e.SourceRepositoryOwnerURI },
	"source-repository-owner-identifier":      func(e *cosign.CertExtensions) *string { return &e.SourceRepositoryOwnerIdentifier },
	"build-config-uri":                        func(e *cosign.CertExtensions) *string { return &e.BuildConfigURI },
	"build-config-digest":                     func(e *cosign.CertExtensions) *string { return &e.BuildConfigDigest },
	"build-trigger":                           func(e *cosign.CertExtensions) *string { return &e.BuildTrigger },
	"run-invocation-uri":                      func(e *cosign.CertExtensions) *string { return &e.RunInvocationURI },
	"source-repository-visibility-at-signing": func(e *cosign.CertExtensions) *string { return &e.SourceRepositoryVisibilityAtSigning },
	"deployment-environment":                  func(e *cosign.CertExtensions) *string { return &e.DeploymentEnvironment },
}

// extensionField finds a template name in either spelling: kebab-case, or
// the Go field name Fulcio's JSON uses (GithubWorkflowSHA, BuildSignerURI).
func extensionField(name string) (func(*cosign.CertExtensions) *string, bool) {
	if f, ok := extensionNames[name]; ok {
		return f, true
	}
	for k, f := range extensionNames {
		if strings.EqualFold(strings.ReplaceAll(k, "-", ""), name) {
			return f, true
		}
	}
	return nil, false
}

// render fills one template: a claim name, or a Go template over data.
func render(tmpl string, data map[string]string) (string, error) {
	if !strings.Contains(tmpl, "{{") {
		v, ok := data[tmpl]
		if !ok {
			return "", fmt.Errorf("value <%s> not present in either claims or defaults", tmpl)
		}
		return v, nil
	}
	t, err := template.New("").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("template %q: %w", tmpl, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("template %q: %w", tmpl, err)
	}
	return b.String(), nil
}
