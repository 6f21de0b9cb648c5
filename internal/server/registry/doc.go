// Package registry owns Hallmark's embedded OCI distribution registry: the
// go-containerregistry registry handler with the OCI 1.1 referrers API on,
// blobs stored on disk, and manifests made persistent by an append-only
// journal that is replayed at start, so a restart keeps everything.
package registry
