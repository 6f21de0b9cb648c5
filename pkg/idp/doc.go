// Package idp owns Hallmark's OpenID Connect identity provider for
// development, tests and air-gapped sites: configured identities, signed ID
// tokens (ES256, keys published as a JWKS), the client-credentials, device
// authorization (RFC 8628) and authorization code + PKCE grants, and
// GitHub-Actions-shaped workflow tokens handed out through the Actions
// token-request protocol. The HTTP layer is internal/server/oidc; the CLI's
// side of the flows is pkg/idtoken.
package idp
