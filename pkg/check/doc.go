// Package check verifies what is attached to an image in its registry. It
// finds the image's signatures in both of cosign's layouts (bundle
// referrers and the legacy .sig tag), judges each candidate with pkg/verify
// as soon as it is read, and classifies the outcome: verified, no
// signatures, none verified (with each candidate's reason), no such image,
// or a registry that failed.
//
// It is the one verification flow the command line, attestations and the
// admission webhook share. It bounds what a hostile registry can cost: every
// call runs under the caller's context (its deadline), each image has a read
// budget, a blob named many times is fetched once, and a bad candidate is one
// failed candidate, never the end of the verification.
package check
