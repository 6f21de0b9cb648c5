// Package imagepolicy owns the one policy model admission decides with, and
// the two languages people write it in: sigstore policy-controller's
// ClusterImagePolicy (policy.sigstore.dev/v1beta1) and Kyverno's
// verifyImages rules (kyverno.io/v1 ClusterPolicy and Policy). Both compile
// to Policy; Policy converts back to either.
//
// It reads, validates and converts; it never verifies (pkg/admit does) and
// never talks to a registry or a cluster. Every error names the document and
// the field at fault.
package imagepolicy
