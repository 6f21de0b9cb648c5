// Package ca serves pkg/ca's certificate authority over Fulcio's REST API:
// POST /api/v2/signingCert (public key with proof of possession, or a CSR),
// GET /api/v2/trustBundle and /api/v2/configuration, and the legacy
// POST /api/v1/signingCert and GET /api/v1/rootCert. Bodies are Fulcio's
// JSON (lowerCamelCase or snake_case in, lowerCamelCase out); errors are its
// {"code","message","details"} shape with the reason spelled out.
package ca
