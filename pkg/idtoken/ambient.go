package idtoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// ambientSources are tried in cosign's effective order.
var ambientSources = []struct {
	name    string
	enabled func(o Options) bool
	get     func(ctx context.Context, o Options) (string, error)
}{
	{"filesystem", func(Options) bool { _, err := os.Stat(FilesystemTokenPath); return err == nil }, filesystemToken},
	{"envvar", func(o Options) bool { _, ok := o.LookupEnv("SIGSTORE_ID_TOKEN"); return ok }, envToken},
	{"github-actions", githubEnabled, githubToken},
}

func ambient(ctx context.Context, o Options) (string, Source, error) {
	if o.Provider != "" {
		for _, s := range ambientSources {
			if s.name == o.Provider {
				tok, err := s.get(ctx, o)
				if err != nil {
					return "", "", fmt.Errorf("--oidc-provider %s: %w", s.name, err)
				}
				return tok, Source(s.name), nil
			}
		}
		return "", "", fmt.Errorf("--oidc-provider %q: want filesystem, envvar or github-actions (buildkite-agent, spiffe and google are not supported)", o.Provider)
	}
	for _, s := range ambientSources {
		if !s.enabled(o) {
			continue
		}
		tok, err := s.get(ctx, o)
		if err != nil {
			return "", "", fmt.Errorf("ambient OIDC credentials (%s): %w", s.name, err)
		}
		if tok != "" {
			return tok, Source(s.name), nil
		}
	}
	return "", "", nil
}

func filesystemToken(context.Context, Options) (string, error) {
	b, err := os.ReadFile(FilesystemTokenPath)
	return strings.TrimSpace(string(b)), err
}

func envToken(_ context.Context, o Options) (string, error) {
	v, _ := o.LookupEnv("SIGSTORE_ID_TOKEN")
	return strings.TrimSpace(v), nil
}

func githubEnabled(o Options) bool {
	u, _ := o.LookupEnv("ACTIONS_ID_TOKEN_REQUEST_URL")
	t, _ := o.LookupEnv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	return u != "" && t != ""
}

// githubToken asks the Actions runtime for a token, as a job with
// permissions id-token: write may: GET the request URL with the audience,
// the request token as bearer, {"value": JWT} back.
func githubToken(ctx context.Context, o Options) (string, error) {
	raw, _ := o.LookupEnv("ACTIONS_ID_TOKEN_REQUEST_URL")
	bearer, _ := o.LookupEnv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if raw == "" || bearer == "" {
		return "", errors.New("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set (does the job have permissions: id-token: write?)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL: %w", err)
	}
	q := u.Query()
	q.Set("audience", o.Audience)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "bearer "+bearer)
	resp, err := o.HTTP.Do(req)
	if err != nil {
		return "", fmt.Errorf("requesting the GitHub Actions token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the GitHub Actions token endpoint answered %s: %s", resp.Status, strings.TrimSpace(string(body[:min(len(body), 300)])))
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
		return "", errors.New("the GitHub Actions token endpoint answered no token")
	}
	return v.Value, nil
}
