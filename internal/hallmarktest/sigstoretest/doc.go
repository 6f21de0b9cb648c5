// Package sigstoretest is a private Sigstore instance in memory, for tests:
// a certificate authority (root and intermediate) that issues Fulcio-shaped
// certificates with embedded SCTs from a CT log, a transparency log that
// signs SETs and checkpoints, and an RFC 3161 timestamp authority, with the
// trusted root that names them all. Every piece can be made wrong on purpose
// (expired certificate, untrusted CA, SCT from an unknown log, timestamp
// outside the TSA's window, ...), so verifiers can be tested with their
// negatives and against sigstore-go on the very same bytes.
package sigstoretest
