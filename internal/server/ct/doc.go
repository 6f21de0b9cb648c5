// Package ct is Hallmark's certificate transparency log: transparency-dev's
// TesseraCT (the static-ct-api personality of Tessera) on Tessera's POSIX
// storage, taking RFC 6962 add-chain and add-pre-chain from the CA, with
// the static-ct-api read side (checkpoint, tiles, issuers) served from the
// log's directory. Hallmark owns the wiring, the key and the roots, and puts
// a journal (package internal/server/journal, in DIR/journal) in front of
// Tessera: every entry is made durable in one synced append and given its
// index there, so an SCT waits for that append alone, and Tessera integrates
// entries in rounds after (replayed from the journal after a crash). This
// package gives the journal the log's entry format: a journaled record is
// the entry's static-ct-api TileLeaf, read back by decodeTileLeaf. Syncs
// are grouped (journal.DefaultGather). The CA in the same process logs
// through LogPrecert, which returns once the journal has given the entry its
// index, with the SCT to sign and the wait for the sync; the CA waits (and,
// when the journal was idle, syncs) while another goroutine signs, and
// answers only after. The CT logic is TesseraCT's.
package ct
