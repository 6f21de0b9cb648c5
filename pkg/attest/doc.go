// Package attest owns what an attestation says before it is signed: the
// predicate types cosign names (slsaprovenance, cyclonedx, vuln, ...) and
// their URIs, checking a predicate against its declared type (CycloneDX,
// SPDX JSON and tag-value, SLSA v0.2 and v1, in-toto links, OpenVEX, cosign's
// vulnerability report), cosign's wrapping of custom predicates, and the
// in-toto Statement naming an image or a blob as its subject.
//
// It signs nothing and trusts nothing: pkg/sign signs statements, pkg/verify
// judges them, pkg/policy evaluates them.
package attest
