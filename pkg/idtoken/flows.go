package idtoken

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

var scopes = []string{oidc.ScopeOpenID, "email"}

func provider(ctx context.Context, o Options) (*oidc.Provider, context.Context, error) {
	ctx = oidc.ClientContext(ctx, o.HTTP)
	p, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("OIDC issuer %s: %w", o.Issuer, err)
	}
	return p, ctx, nil
}

// idToken takes the ID token from a token answer and checks it: signed by
// the issuer, for this client, not expired, and carrying nonce when given.
func idToken(ctx context.Context, p *oidc.Provider, o Options, t *oauth2.Token, nonce string) (string, error) {
	raw, _ := t.Extra("id_token").(string)
	if raw == "" {
		return "", errors.New("the issuer's token answer has no id_token")
	}
	tok, err := p.Verifier(&oidc.Config{ClientID: o.ClientID}).Verify(ctx, raw)
	if err != nil {
		return "", fmt.Errorf("the issuer's ID token: %w", err)
	}
	if nonce != "" && tok.Nonce != nonce {
		return "", errors.New("the issuer's ID token does not carry the nonce this sign-in sent")
	}
	return raw, nil
}

func oauthConfig(p *oidc.Provider, o Options, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Endpoint: p.Endpoint(), Scopes: scopes, RedirectURL: redirect}
}

// device runs the RFC 8628 device flow: print the code, poll until the
// user approves on another device.
func device(ctx context.Context, o Options) (string, error) {
	p, ctx, err := provider(ctx, o)
	if err != nil {
		return "", err
	}
	if p.Endpoint().DeviceAuthURL == "" {
		return "", fmt.Errorf("OIDC issuer %s offers no device authorization endpoint", o.Issuer)
	}
	cfg := oauthConfig(p, o, "")
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		return "", fmt.Errorf("starting the device flow at %s: %w", o.Issuer, err)
	}
	where := da.VerificationURIComplete
	if where == "" {
		where = da.VerificationURI
	}
	fmt.Fprintf(o.Stderr, "Enter the verification code %s in your browser at: %s\n", da.UserCode, where)
	if !da.Expiry.IsZero() {
		fmt.Fprintf(o.Stderr, "Code will be valid for %d seconds\n", int(time.Until(da.Expiry).Seconds()+0.5))
	}
	t, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		return "", fmt.Errorf("device flow: %w", err)
	}
	fmt.Fprintln(o.Stderr, "Token received!")
	return idToken(ctx, p, o, t, "")
}

// clientCredentials gets a token for a confidential client.
func clientCredentials(ctx context.Context, o Options) (string, error) {
	p, ctx, err := provider(ctx, o)
	if err != nil {
		return "", err
	}
	if o.ClientSecret == "" {
		return "", errors.New("the client_credentials flow needs a client secret (--oidc-client-secret-file)")
	}
	cfg := clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: p.Endpoint().TokenURL, Scopes: scopes}
	t, err := cfg.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("client credentials at %s: %w", o.Issuer, err)
	}
	return idToken(ctx, p, o, t, "")
}

// authCode runs the authorization code flow with PKCE through the browser,
// receiving the code on a loopback listener.
func authCode(ctx context.Context, o Options) (string, error) {
	p, ctx, err := provider(ctx, o)
	if err != nil {
		return "", err
	}
	listen, path := "localhost:0", "/auth/callback"
	if o.RedirectURL != "" {
		u, err := url.Parse(o.RedirectURL)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("--oidc-redirect-url %q is not a URL", o.RedirectURL)
		}
		listen, path = u.Host, u.Path
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", fmt.Errorf("listening for the sign-in redirect on %s: %w", listen, err)
	}
	defer ln.Close()
	redirect := o.RedirectURL
	if redirect == "" {
		redirect = fmt.Sprintf("http://localhost:%d%s", ln.Addr().(*net.TCPAddr).Port, path)
	}
	cfg := oauthConfig(p, o, redirect)
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce))

	codes := make(chan string, 1)
	errs := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("state") != state:
			// Not this sign-in's redirect (another page, a stray request):
			// answer it and keep waiting for the right one.
			http.Error(w, "this is not the sign-in this listener waits for", http.StatusBadRequest)
		case q.Get("error") != "":
			http.Error(w, "sign-in failed: "+q.Get("error"), http.StatusBadRequest)
			select {
			case errs <- fmt.Errorf("sign-in refused: %s %s", q.Get("error"), q.Get("error_description")):
			default:
			}
		default:
			fmt.Fprintln(w, "Sign-in complete. You can close this page and return to your terminal.")
			select {
			case codes <- q.Get("code"):
			default:
			}
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	fmt.Fprintf(o.Stderr, "Your browser will now be opened to:\n%s\n", authURL)
	open := o.OpenBrowser
	if open == nil {
		open = openBrowser
	}
	if err := open(authURL); err != nil {
		fmt.Fprintf(o.Stderr, "Could not open a browser (%v): open the address above yourself.\n", err)
	}
	var code string
	select {
	case code = <-codes:
	case err := <-errs:
		return "", err
	case <-time.After(2 * time.Minute):
		return "", errors.New("no sign-in within 2 minutes")
	case <-ctx.Done():
		return "", ctx.Err()
	}
	t, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return "", fmt.Errorf("exchanging the sign-in code at %s: %w", o.Issuer, err)
	}
	return idToken(ctx, p, o, t, nonce)
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	return cmd.Start()
}
