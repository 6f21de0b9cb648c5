// Package cosign owns the wire formats Hallmark shares with cosign, and is the
// only place they are parsed or produced:
//
//   - the "simple signing" payload of legacy signatures (cosign ≤ v2, the
//     sha256-<hex>.sig tag), and the layer annotations that carry signatures;
//   - the in-toto Statement v1 with predicate type
//     https://sigstore.dev/cosign/sign/v1 that cosign v3 signs for an image;
//   - DSSE envelopes and their pre-authentication encoding;
//   - Sigstore bundles (protobuf-specs JSON, v0.1 to v0.3).
//
// Parsers here check structure and cap sizes, and return values; they never
// decide whether a signature is trusted (that is pkg/verify's job).
package cosign
