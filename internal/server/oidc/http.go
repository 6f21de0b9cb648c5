package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"hallmark.dev/hallmark/pkg/idp"
)

// DefaultAudience is the audience of tokens asked for without one: the one
// Fulcio and cosign use.
const DefaultAudience = "sigstore"

// maxForm bounds request bodies: forms and workflow descriptions are small.
const maxForm = 64 << 10

// Handler serves a provider.
type Handler struct {
	p     *idp.Provider
	log   *slog.Logger
	mux   *http.ServeMux
	hosts map[string]bool // Host headers the provider answers
}

// NewHandler returns the HTTP API of p.
func NewHandler(p *idp.Provider, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{p: p, log: logger, mux: http.NewServeMux(), hosts: allowedHosts(p.Issuer())}
	h.mux.HandleFunc("GET /.well-known/openid-configuration", h.discovery)
	h.mux.HandleFunc("GET /keys", h.keys)
	h.mux.HandleFunc("GET /auth", h.authPage)
	h.mux.HandleFunc("POST /auth", h.authDecide)
	h.mux.HandleFunc("POST /device/code", h.deviceCode)
	h.mux.HandleFunc("GET "+idp.DevicePath, h.devicePage)
	h.mux.HandleFunc("POST "+idp.DevicePath, h.deviceDecide)
	h.mux.HandleFunc("POST /token", h.token)
	gh := idp.GitHubPath
	h.mux.HandleFunc("GET "+gh+"/.well-known/openid-configuration", h.githubDiscovery)
	h.mux.HandleFunc("GET "+gh+"/keys", h.keys)
	h.mux.HandleFunc("POST "+gh+"/token", h.githubToken)
	h.mux.HandleFunc("POST "+gh+"/runs", h.registerRun)
	h.mux.HandleFunc("GET "+gh+"/idtoken", h.runToken)
	return h
}

// ServeHTTP answers only requests addressed to the issuer's own host: the
// provider vouches for its identities to whoever reaches it, so a web page
// must not reach it by DNS rebinding (its requests name the page's host).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.hosts[strings.ToLower(r.Host)] {
		http.Error(w, fmt.Sprintf("this identity provider answers at %s, not at host %q", h.p.Issuer(), r.Host), http.StatusMisdirectedRequest)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// allowedHosts is the issuer's host, and for a loopback issuer its other
// loopback names on the same port.
func allowedHosts(issuer string) map[string]bool {
	u, err := url.Parse(issuer)
	if err != nil {
		return map[string]bool{}
	}
	hosts := map[string]bool{strings.ToLower(u.Host): true}
	host, port := u.Hostname(), u.Port()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		for _, h := range []string{"localhost", "127.0.0.1", "[::1]"} {
			if port != "" {
				h += ":" + port
			}
			hosts[h] = true
		}
	}
	return hosts
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// oauthError answers an error in RFC 6749's JSON shape.
func (h *Handler) oauthError(w http.ResponseWriter, err error) {
	var e *idp.Error
	if !errors.As(err, &e) {
		h.log.Error("identity provider failed", "err", err)
		e = &idp.Error{Code: "server_error", Description: err.Error(), Status: http.StatusInternalServerError}
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="hallmark"`)
	}
	writeJSON(w, e.Status, e)
}

func (h *Handler) discovery(w http.ResponseWriter, _ *http.Request) {
	iss := h.p.Issuer()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/auth",
		"token_endpoint":                        iss + "/token",
		"device_authorization_endpoint":         iss + "/device/code",
		"jwks_uri":                              iss + "/keys",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{h.p.JWKS().Keys[0].Algorithm},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "email", "email_verified", "name", "nonce"},
		"grant_types_supported":                 []string{"authorization_code", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
	})
}

func (h *Handler) githubDiscovery(w http.ResponseWriter, _ *http.Request) {
	iss := h.p.GitHubIssuer()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + "/keys",
		"token_endpoint":                        iss + "/token",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public", "pairwise"},
		"id_token_signing_alg_values_supported": []string{h.p.JWKS().Keys[0].Algorithm},
		"scopes_supported":                      []string{"openid"},
		"claims_supported": []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "ref_type", "sha",
			"repository", "repository_id", "repository_owner", "repository_owner_id", "repository_visibility",
			"run_id", "run_number", "run_attempt", "runner_environment", "actor", "actor_id", "workflow",
			"workflow_ref", "workflow_sha", "job_workflow_ref", "job_workflow_sha", "event_name", "environment",
			"head_ref", "base_ref"},
	})
}

func (h *Handler) keys(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	b, _ := json.Marshal(h.p.JWKS())
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// parseForm reads a bounded form body, answering 400 itself when it cannot.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.oauthError(w, &idp.Error{Code: "invalid_request", Description: fmt.Sprintf("reading the form: %v", err), Status: http.StatusBadRequest})
		return false
	}
	return true
}

// clientAuth reads client credentials from HTTP Basic or the form.
func clientAuth(r *http.Request) (id, secret string) {
	if id, secret, ok := r.BasicAuth(); ok {
		return id, secret
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
}

func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	id, secret := clientAuth(r)
	f := r.PostForm
	var (
		tok string
		err error
	)
	switch gt := f.Get("grant_type"); gt {
	case "client_credentials":
		tok, err = h.p.ClientCredentials(id, secret, f.Get("audience"), f.Get("email"))
	case "authorization_code":
		tok, err = h.p.ExchangeCode(id, secret, f.Get("code"), f.Get("redirect_uri"), f.Get("code_verifier"))
	case "urn:ietf:params:oauth:grant-type:device_code":
		tok, err = h.p.PollDevice(id, secret, f.Get("device_code"))
	case "":
		err = &idp.Error{Code: "invalid_request", Description: "grant_type is missing", Status: http.StatusBadRequest}
	default:
		err = &idp.Error{Code: "unsupported_grant_type", Description: fmt.Sprintf("grant_type %q is not supported", gt), Status: http.StatusBadRequest}
	}
	if err != nil {
		h.oauthError(w, err)
		return
	}
	h.tokenAnswer(w, tok)
}

func (h *Handler) tokenAnswer(w http.ResponseWriter, tok string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "id_token": tok, "token_type": "Bearer", "expires_in": int(h.p.TTL().Seconds()),
	})
}

func (h *Handler) deviceCode(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	id, secret := clientAuth(r)
	d, err := h.p.StartDevice(id, secret, r.PostForm.Get("scope"))
	if err != nil {
		h.oauthError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
