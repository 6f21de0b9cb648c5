// Package admit decides whether images may run: it matches each image to
// the policies of pkg/imagepolicy, verifies it against their authorities
// with pkg/check (signatures and attestations, keyed and keyless), judges
// attestations with pkg/policy or Kyverno's conditions, and explains every
// no as image, policy, authority and the check that failed (want/got).
//
// It is built for the admission webhook's constraints: a verification cache
// keyed by (image digest, authority) with a TTL and a size bound; concurrent
// requests for one digest coalesced into one verification, which finishes
// (and fills the cache) even when the request that started it has given up;
// every decision inside the caller's deadline; and a registry that is slow,
// unreachable or throttling reported as exactly that, never as "unsigned".
//
// It owns no HTTP and no Kubernetes types: internal/server/admission turns
// AdmissionReviews into Requests and Decisions into responses.
package admit
