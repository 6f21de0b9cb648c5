// Package keys owns signing keys: generating them, reading and writing cosign's
// encrypted private-key files and PEM public keys, and the per-algorithm choice
// of hash and signature scheme used when a key signs or checks a message.
//
// The private-key file is cosign's: a PEM block of type
// "ENCRYPTED SIGSTORE PRIVATE KEY" (or the legacy "ENCRYPTED COSIGN PRIVATE KEY")
// holding go-securesystemslib's "encrypted" JSON (scrypt KDF, nacl/secretbox)
// around a PKCS#8 private key. Public keys are PEM "PUBLIC KEY" (PKIX).
//
// This package decides nothing about trust: it only answers "does this
// signature verify under this key". Which keys are trusted is pkg/verify's job.
package keys
