package idtoken

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Flows, as cosign's --fulcio-auth-flow names them.
const (
	FlowNormal            = "normal"
	FlowDevice            = "device"
	FlowToken             = "token"
	FlowClientCredentials = "client_credentials"
)

// FilesystemTokenPath is where cosign's filesystem provider reads a token.
const FilesystemTokenPath = "/var/run/sigstore/cosign/oidc-token"

// Options say where a token may come from.
type Options struct {
	// Token is --identity-token: a JWT, or the path of a file holding one.
	Token string
	// Issuer, ClientID, ClientSecret and RedirectURL configure the OAuth
	// flows (cosign's --oidc-* flags).
	Issuer, ClientID, ClientSecret, RedirectURL string
	// Flow is --fulcio-auth-flow; empty chooses device when Interactive is
	// false and normal otherwise.
	Flow string
	// Provider names the one ambient source to use (--oidc-provider:
	// filesystem, envvar, github-actions); empty tries them in order.
	Provider string
	// DisableAmbient skips the ambient sources (including SIGSTORE_ID_TOKEN).
	DisableAmbient bool
	// Interactive says a person is at the terminal.
	Interactive bool
	// Audience asked of ambient providers ("sigstore").
	Audience string

	LookupEnv   func(string) (string, bool)
	Stderr      io.Writer
	HTTP        *http.Client
	OpenBrowser func(url string) error
	// Now is used to reject a given token that has already expired.
	Now func() time.Time
}

// Source says where a token came from, for messages.
type Source string

// Get returns an identity token and where it came from.
func Get(ctx context.Context, o Options) (string, Source, error) {
	o.defaults()
	if o.Token != "" {
		tok, err := readToken(o.Token)
		return tok, "--identity-token", err
	}
	if !o.DisableAmbient {
		tok, src, err := ambient(ctx, o)
		if err != nil || tok != "" {
			return tok, src, err
		}
	}
	if o.Issuer == "" {
		return "", "", errors.New("no identity token: give --identity-token or SIGSTORE_ID_TOKEN, run in GitHub Actions with id-token: write, or name an OIDC issuer (--oidc-issuer, or oidcUrls in --signing-config) to sign in")
	}
	flow := o.Flow
	if flow == "" {
		flow = FlowNormal
		if !o.Interactive {
			flow = FlowDevice
			fmt.Fprintln(o.Stderr, "Non-interactive mode detected, using device flow.")
		}
	}
	var (
		tok string
		err error
	)
	switch flow {
	case FlowNormal:
		tok, err = authCode(ctx, o)
	case FlowDevice:
		tok, err = device(ctx, o)
	case FlowClientCredentials:
		tok, err = clientCredentials(ctx, o)
	case FlowToken:
		err = errors.New("--fulcio-auth-flow token needs --identity-token")
	default:
		err = fmt.Errorf("--fulcio-auth-flow %q: want normal, device, token or client_credentials", flow)
	}
	return tok, Source("OIDC issuer " + o.Issuer + " (" + flow + " flow)"), err
}

func (o *Options) defaults() {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if o.ClientID == "" {
		o.ClientID = "sigstore"
	}
	if o.Audience == "" {
		o.Audience = "sigstore"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// readToken takes a JWT as given, or reads the file a path names; a file's
// surrounding whitespace is dropped (cosign sends a trailing newline on and
// fails).
func readToken(s string) (string, error) {
	if looksLikeJWT(s) {
		return s, nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		if len(s) > 200 || strings.Count(s, ".") >= 2 {
			return "", errors.New("--identity-token is neither a JWT (three base64url parts) nor a readable file")
		}
		return "", fmt.Errorf("--identity-token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if !looksLikeJWT(tok) {
		return "", fmt.Errorf("--identity-token file %s does not hold a JWT", s)
	}
	return tok, nil
}

func looksLikeJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	for _, p := range parts {
		for _, r := range p {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '=') {
				return false
			}
		}
	}
	return true
}
