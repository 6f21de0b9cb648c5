// Package log (internal/server/log) owns Hallmark's transparency log service: a
// Rekor-compatible log whose Merkle tree and tiles are stored by Tessera,
// with its search index, uuid map and duplicate check beside it: on one
// machine, Tessera's POSIX driver and a Pebble index that can be rebuilt from
// the log; scaled out, Tessera's MySQL driver and the index in the same
// database, so that any number of stateless frontends serve one log.
//
// The service validates every entry (pkg/rekor), appends its canonical body
// as a leaf, and acknowledges only once the entry is durable and indexed,
// answering with an inclusion proof, a signed checkpoint that covers it and a
// signed entry timestamp (pkg/tlog). On one machine "durable" is one synced
// append to the journal (internal/server/journal) in front of Tessera, and
// the tree answered for is the journaled one, kept in memory beyond what
// Tessera has integrated (tail.go, journaled.go); scaled out, it is Tessera's
// integrated tree. HTTP
// handlers (Rekor v1 API, C2SP tlog-tiles read API) decode, call the service,
// and map errors to statuses.
package log
