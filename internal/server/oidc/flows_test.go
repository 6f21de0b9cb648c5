package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"hallmark.dev/hallmark/pkg/ca"
	"hallmark.dev/hallmark/pkg/idp"
	"hallmark.dev/hallmark/pkg/idtoken"
)

func provider(t *testing.T) (*idp.Provider, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	p, err := idp.New(idp.Config{Issuer: srv.URL, Key: k, DeviceInterval: time.Second,
		Clients:    []idp.Client{{ID: "sigstore"}, {ID: "ci", Secret: "s3cret"}},
		Identities: []idp.Identity{{Email: "alice@example.com", Name: "Alice"}, {Email: "bob@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = NewHandler(p, nil)
	return p, srv
}

// claims verifies a token as a relying party would and returns its claims.
func claims(t *testing.T, issuer, aud, tok string) map[string]any {
	t.Helper()
	p, err := oidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.Verifier(&oidc.Config{ClientID: aud}).Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	var c map[string]any
	_ = id.Claims(&c)
	return c
}

var formValue = regexp.MustCompile(`name="request" value="([^"]+)"`)

// approveInBrowser plays the user: open the consent page, pick who, submit,
// follow the redirect to the client's listener.
func approveInBrowser(email, action string) func(string) error {
	return func(authURL string) error {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		resp, err := c.Get(authURL)
		if err != nil {
			return err
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := formValue.FindSubmatch(page)
		if m == nil {
			return &url.Error{Op: "consent", URL: authURL, Err: io.ErrUnexpectedEOF}
		}
		u, _ := url.Parse(authURL)
		u.RawQuery = ""
		go func() {
			resp, err := c.PostForm(u.String(), url.Values{"request": {string(m[1])}, "email": {email}, "action": {action}})
			if err == nil {
				resp.Body.Close()
			}
		}()
		return nil
	}
}

func TestAuthorizationCodeFlow(t *testing.T) {
	_, srv := provider(t)
	tok, src, err := idtoken.Get(context.Background(), idtoken.Options{
		Issuer: srv.URL, Flow: idtoken.FlowNormal, DisableAmbient: true, OpenBrowser: approveInBrowser("bob@example.com", "approve"),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := claims(t, srv.URL, "sigstore", tok)
	if c["email"] != "bob@example.com" || c["email_verified"] != true || c["nonce"] == nil {
		t.Errorf("claims %v (source %s)", c, src)
	}
	// The user declines: the client is told so.
	_, _, err = idtoken.Get(context.Background(), idtoken.Options{
		Issuer: srv.URL, Flow: idtoken.FlowNormal, DisableAmbient: true, OpenBrowser: approveInBrowser("bob@example.com", "deny"),
	})
	if err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Errorf("declined sign-in: %v", err)
	}
}

func TestDeviceFlow(t *testing.T) {
	_, srv := provider(t)
	var (
		once sync.Once
		errs = make(chan error, 1)
	)
	stderr := writerFunc(func(b []byte) (int, error) {
		if m := regexp.MustCompile(`code ([A-Z]{4}-[A-Z]{4})`).FindSubmatch(b); m != nil {
			code := string(m[1]) // b is the writer's buffer: copy before it is reused
			once.Do(func() {
				go func() {
					time.Sleep(1500 * time.Millisecond) // let the client poll once: authorization_pending
					resp, err := http.PostForm(srv.URL+"/device", url.Values{"user_code": {strings.ToLower(code)}, "email": {"alice@example.com"}, "action": {"approve"}})
					if err == nil {
						if resp.StatusCode != http.StatusOK {
							err = fmt.Errorf("approval answered %s", resp.Status)
						}
						resp.Body.Close()
					}
					errs <- err
				}()
			})
		}
		return len(b), nil
	})
	tok, _, err := idtoken.Get(context.Background(), idtoken.Options{Issuer: srv.URL, Flow: idtoken.FlowDevice, DisableAmbient: true, Stderr: stderr})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if c := claims(t, srv.URL, "sigstore", tok); c["email"] != "alice@example.com" {
		t.Errorf("claims %v", c)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestClientCredentialsAndAmbient(t *testing.T) {
	p, srv := provider(t)
	tok, _, err := idtoken.Get(context.Background(), idtoken.Options{Issuer: srv.URL, ClientID: "ci", ClientSecret: "s3cret",
		Flow: idtoken.FlowClientCredentials, DisableAmbient: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := claims(t, srv.URL, "ci", tok); c["email"] != "alice@example.com" {
		t.Errorf("claims %v", c)
	}
	// A GitHub Actions job: register a run, then the ambient source finds it.
	client := &idp.APIClient{Issuer: srv.URL, ClientID: "ci", ClientSecret: "s3cret"}
	reqURL, reqTok, err := client.RegisterRun(context.Background(), idp.Workflow{Repository: "octo/demo", Ref: "refs/tags/v1"})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": reqURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": reqTok, "SIGSTORE_ID_TOKEN": ""}
	delete(env, "SIGSTORE_ID_TOKEN")
	tok, src, err := idtoken.Get(context.Background(), idtoken.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil || src != "github-actions" {
		t.Fatalf("ambient: %v (source %s)", err, src)
	}
	c := claims(t, p.GitHubIssuer(), "sigstore", tok)
	if c["repository"] != "octo/demo" || c["sub"] != "repo:octo/demo:ref:refs/tags/v1" || c["ref_type"] != "tag" ||
		c["job_workflow_ref"] != "octo/demo/.github/workflows/release.yml@refs/tags/v1" {
		t.Errorf("workflow claims %v", c)
	}
	// SIGSTORE_ID_TOKEN comes before GitHub Actions, as in cosign.
	env["SIGSTORE_ID_TOKEN"] = "a.b.c"
	if tok, src, _ := idtoken.Get(context.Background(), idtoken.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}); tok != "a.b.c" || src != "envvar" {
		t.Errorf("SIGSTORE_ID_TOKEN: %q from %s", tok, src)
	}
}

// TestRefusals: what the provider refuses, each an OAuth error naming why.
func TestRefusals(t *testing.T) {
	p, srv := provider(t)
	form := func(path string, v url.Values, user, pass string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	for _, c := range []struct {
		name, path       string
		form             url.Values
		user, pass       string
		status           int
		code, descSubstr string
	}{
		{"wrong secret", "/token", cc, "ci", "nope", 401, "invalid_client", "wrong secret"},
		{"unknown client", "/token", cc, "who", "x", 401, "invalid_client", "unknown client"},
		{"public client credentials", "/token", cc, "sigstore", "", 401, "unauthorized_client", "secret"},
		{"unconfigured identity", "/token", url.Values{"grant_type": {"client_credentials"}, "email": {"eve@example.com"}}, "ci", "s3cret", 400, "invalid_request", "not a configured identity"},
		{"unknown grant", "/token", url.Values{"grant_type": {"password"}}, "ci", "s3cret", 400, "unsupported_grant_type", "password"},
		{"no grant", "/token", url.Values{}, "ci", "s3cret", 400, "invalid_request", "grant_type"},
		{"unknown code", "/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"sigstore"}}, "", "", 400, "invalid_grant", "unknown"},
		{"unknown device code", "/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {"x"}, "client_id": {"sigstore"}}, "", "", 400, "invalid_grant", "unknown"},
		{"workflow: bad repository", "/github/token", url.Values{"grant_type": {"client_credentials"}, "repository": {"not a repo"}}, "ci", "s3cret", 400, "invalid_request", "owner/name"},
		{"workflow: bad ref", "/github/token", url.Values{"grant_type": {"client_credentials"}, "repository": {"o/r"}, "ref": {"main"}}, "ci", "s3cret", 400, "invalid_request", "ref"},
		{"workflow: bad sha", "/github/token", url.Values{"grant_type": {"client_credentials"}, "repository": {"o/r"}, "sha": {"xyz"}}, "ci", "s3cret", 400, "invalid_request", "sha"},
	} {
		status, out := form(c.path, c.form, c.user, c.pass)
		desc, _ := out["error_description"].(string)
		if status != c.status || out["error"] != c.code || !strings.Contains(desc, c.descSubstr) {
			t.Errorf("%s: %d %v, want %d %s naming %q", c.name, status, out, c.status, c.code, c.descSubstr)
		}
	}
	// The token-request endpoint wants a registered run's bearer token.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/github/idtoken?audience=sigstore", nil)
	req.Header.Set("Authorization", "bearer forged")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged request token: %d, want 401", resp.StatusCode)
	}
	// Consent page: redirect URIs other than loopback are refused on the page.
	resp, err = http.Get(srv.URL + "/auth?" + url.Values{"response_type": {"code"}, "client_id": {"sigstore"}, "redirect_uri": {"https://evil.example/cb"},
		"scope": {"openid"}, "code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(page), "loopback") {
		t.Errorf("non-loopback redirect: %d %s", resp.StatusCode, page)
	}
	// PKCE: a code redeemed with the wrong verifier fails, and is then spent.
	id, err := p.Authorize(idp.AuthorizeParams{ResponseType: "code", ClientID: "sigstore", RedirectURI: "http://127.0.0.1:9/cb", Scope: "openid email",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256"})
	if err != nil {
		t.Fatal(err)
	}
	to, err := p.Decide(id, "alice@example.com", true)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	code := u.Query().Get("code")
	if _, err := p.ExchangeCode("sigstore", "", code, "http://127.0.0.1:9/cb", strings.Repeat("x", 43)); err == nil || !strings.Contains(err.Error(), "code_verifier") {
		t.Errorf("wrong verifier: %v", err)
	}
	if _, err := p.ExchangeCode("sigstore", "", code, "http://127.0.0.1:9/cb", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); err == nil {
		t.Error("a code was redeemed twice")
	}
	// The CA's view: a token for another audience does not verify.
	tok, _ := p.EmailToken(p.Identities()[0], "other", "")
	if _, err := ca.ParseUnverified(tok); err != nil {
		t.Fatal(err)
	}
}

// TestHostAndBounds: requests addressed to another host (DNS rebinding) are
// refused, and unauthenticated callers cannot make the provider hold large
// values.
func TestHostAndBounds(t *testing.T) {
	_, srv := provider(t)
	u, _ := url.Parse(srv.URL)
	for host, want := range map[string]int{"evil.example:" + u.Port(): http.StatusMisdirectedRequest, "localhost:" + u.Port(): http.StatusOK, u.Host: http.StatusOK} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/.well-known/openid-configuration", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
	resp, err := http.Get(srv.URL + "/auth?" + url.Values{"response_type": {"code"}, "client_id": {"sigstore"}, "redirect_uri": {"http://127.0.0.1:9/cb"},
		"scope": {"openid"}, "code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}, "state": {strings.Repeat("s", 4096)}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a 4 kB state: %d, want 400", resp.StatusCode)
	}
}
