// Package verify owns every trust decision Hallmark makes about a signature:
// that it verifies under a trusted key, or under the key of a certificate a
// trusted CA issued to an expected identity, valid when the signature was
// made and logged in certificate transparency; that its transparency-log
// entries and RFC 3161 timestamps are genuine and record this very
// signature; that what it signed is the artifact the caller asked about
// (digest from the caller, never from the payload); and that its annotations
// match.
//
// It is pure: no network, no files, no registry types. Callers hand it parsed
// candidates (pkg/cosign values), the trust material (pkg/trust) and a
// Policy, and get a Result or an error that names the failed step, with
// expected and actual values. It accepts and refuses what sigstore-go v1.3.0
// does (differential tests hold it there), and is stricter in the few places
// docs/architecture.md lists.
package verify
