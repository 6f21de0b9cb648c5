// Package verify owns every trust decision Hallmark makes about a signature:
// that it verifies under a trusted key, that what it signed is the artifact
// the caller asked about (digest from the caller, never from the payload),
// that its annotations match, and that its transparency-log evidence is
// present unless the caller explicitly waives it.
//
// It is pure: no network, no files, no registry types. Callers hand it parsed
// candidates (pkg/cosign values) and a Policy, and get a Result or an error
// that names the failed step, with expected and actual values.
package verify
