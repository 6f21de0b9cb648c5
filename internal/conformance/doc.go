// Package conformance runs the Sigstore conformance suite's bundle
// verification cases (testdata/bundle-verify, copied from
// sigstore/sigstore-conformance; see testdata/SOURCE.md) through Hallmark's
// command line, as the suite runs a client: every case once with the
// artifact's path and once with its sha256: digest.
package conformance
