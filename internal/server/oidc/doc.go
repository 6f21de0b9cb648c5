// Package oidc serves pkg/idp's identity provider over HTTP: OpenID Connect
// discovery and keys, the token endpoint (client credentials, device code,
// authorization code + PKCE), the device and consent pages, and under
// /github a second issuer of GitHub-Actions-shaped workflow tokens with the
// Actions token-request endpoint.
package oidc
