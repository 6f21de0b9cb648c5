// Package ca owns Hallmark's code-signing certificate authority, the part
// Fulcio plays in Sigstore: it reads Fulcio's issuer configuration, verifies
// OIDC identity tokens (coreos/go-oidc: keys fetched and cached per issuer),
// checks proof of possession the way Fulcio does for each issuer type, and
// issues ten-minute certificates following Fulcio's certificate profile
// (code-signing EKU, one critical SAN, issuer and CI extensions), logging a
// precertificate to a CT log and embedding its SCT when one is configured.
// The HTTP layer (Fulcio's REST API) is internal/server/ca.
package ca
