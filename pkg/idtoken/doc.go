// Package idtoken owns getting an OIDC identity token for keyless signing,
// in cosign's order: a token given (value or file), the ambient sources (the
// filesystem token, SIGSTORE_ID_TOKEN, GitHub Actions), then an OAuth flow
// against the issuer (authorization code + PKCE through the browser, the
// device flow, or client credentials).
package idtoken
