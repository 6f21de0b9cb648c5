// Package trust holds the material a verifier trusts, parsed once: the keys
// of transparency logs and certificate-transparency logs, the certificate
// authorities that issue signing certificates and the timestamp authorities,
// each with the window in which the trusted root says it may be believed.
//
// It is built from a Sigstore trusted root (protobuf-specs TrustedRoot) or
// from certificate files, and decides nothing: pkg/verify asks it which log,
// CA or TSA a piece of evidence names and judges the evidence itself.
package trust
