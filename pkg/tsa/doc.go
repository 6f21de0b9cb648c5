// Package tsa owns Hallmark's RFC 3161 timestamp authority: it reads a
// time-stamp request (DER, or the JSON form sigstore's timestamp-authority
// also takes), refuses what that service refuses, and answers a signed
// time-stamp token under a time-stamping certificate chain, which it creates
// on first use. The HTTP layer is internal/server/tsa.
package tsa
