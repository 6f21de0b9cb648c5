// Package tlog owns the pure checks of transparency-log evidence, as Rekor
// defines it: RFC 6962 inclusion and consistency proofs (via
// transparency-dev/merkle), signed checkpoints (signed notes, in Rekor v1's
// ECDSA variant and C2SP's), and signed entry timestamps (SETs). It also
// signs checkpoints and SETs for the log service.
//
// No I/O: callers pass bytes and keys and get an error naming what failed.
package tlog
