// Package log (internal/server/log) owns Hallmark's transparency log service: a
// Rekor-compatible log whose Merkle tree and tiles are stored by Tessera
// (POSIX driver by default, MySQL for scale-out), with a search index beside
// it (Pebble) that can be rebuilt from the log.
//
// The service validates every entry (pkg/rekor), appends its canonical body
// as a leaf, and acknowledges only once the entry is integrated into the
// durable tree and indexed, answering with an inclusion proof, a signed
// checkpoint that covers it and a signed entry timestamp (pkg/tlog). HTTP
// handlers (Rekor v1 API, C2SP tlog-tiles read API) decode, call the service,
// and map errors to statuses.
package log
