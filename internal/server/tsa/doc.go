// Package tsa serves pkg/tsa's timestamp authority over HTTP the way
// sigstore's timestamp-authority does: POST /api/v1/timestamp (DER
// application/timestamp-query, or JSON) answering
// application/timestamp-reply, and GET /api/v1/timestamp/certchain.
package tsa
