// Package oci owns Hallmark's conversation with OCI registries: parsing image
// references, resolving tags to digests, and reading and writing the two
// layouts cosign stores signatures in:
//
//   - legacy: an image tagged sha256-<hex>.sig whose layers are simple-signing
//     payloads, the signature in a layer annotation (cosign ≤ v2);
//   - bundle: an OCI 1.1 referrer manifest (artifactType = the Sigstore bundle
//     media type, empty config, subject = the signed image) whose one layer is
//     the bundle JSON, found through the referrers API or, on registries
//     without it, the sha256-<hex> referrers tag (cosign v3).
//
// It returns raw bytes and descriptors and decides nothing about trust.
// Registry failures come back as *RegistryError, so that callers can tell
// "the registry failed" from "there is nothing there".
package oci
