package idp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// APIClient talks to a Hallmark identity provider as its confidential client:
// tokens for configured identities and workflows, and run registration.
type APIClient struct {
	Issuer       string // the provider's URL (not the /github issuer)
	ClientID     string
	ClientSecret string
	HTTP         *http.Client
}

func (c *APIClient) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// EmailToken gets a token for a configured identity (the first when email
// is empty) with audience aud.
func (c *APIClient) EmailToken(ctx context.Context, email, aud string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {aud}, "scope": {"openid email"}}
	if email != "" {
		form.Set("email", email)
	}
	return c.token(ctx, c.Issuer+"/token", form)
}

// WorkflowToken gets a GitHub-Actions-shaped token for w.
func (c *APIClient) WorkflowToken(ctx context.Context, w Workflow, aud string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {aud}}
	b, _ := json.Marshal(w)
	var fields map[string]string
	_ = json.Unmarshal(b, &fields)
	for k, v := range fields {
		form.Set(k, v)
	}
	return c.token(ctx, c.Issuer+GitHubPath+"/token", form)
}

func (c *APIClient) token(ctx context.Context, endpoint string, form url.Values) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ClientID, c.ClientSecret)
	var out struct {
		IDToken string `json:"id_token"`
	}
	if err := c.do(req, &out); err != nil {
		return "", err
	}
	if out.IDToken == "" {
		return "", fmt.Errorf("%s answered no id_token", endpoint)
	}
	return out.IDToken, nil
}

// RegisterRun registers a workflow run and returns the request URL and
// token its job uses (ACTIONS_ID_TOKEN_REQUEST_URL, _TOKEN).
func (c *APIClient) RegisterRun(ctx context.Context, w Workflow) (requestURL, requestToken string, err error) {
	b, _ := json.Marshal(w)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Issuer+GitHubPath+"/runs", bytes.NewReader(b))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(c.ClientID, c.ClientSecret)
	var out struct {
		URL   string `json:"request_url"`
		Token string `json:"request_token"`
	}
	if err := c.do(req, &out); err != nil {
		return "", "", err
	}
	return out.URL, out.Token, nil
}

func (c *APIClient) do(req *http.Request, out any) error {
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("identity provider: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		if json.Unmarshal(body, &e) == nil && e.Code != "" {
			return fmt.Errorf("identity provider %s refused (%s): %s: %s", req.URL.Host, resp.Status, e.Code, e.Description)
		}
		return fmt.Errorf("identity provider %s answered %s", req.URL, resp.Status)
	}
	return json.Unmarshal(body, out)
}
