// Package journal is the durable, synced, index-assigning write-ahead
// journal in front of a Tessera appender, for any log Hallmark runs on
// Tessera (the CT log, the Rekor log).
//
// Every add to the log goes through the journal, which gives the entry the
// next index and writes it into a segment file (DIR/<first index>.log, zeroed
// ahead of its records so that a sync flushes data alone),
// synced once for all who arrived during the last sync (an add that finds
// the journal idle is written and synced by its own caller, when it waits
// for it, rather than by the committer goroutine); with Config.Gather,
// a sync that follows a shared one waits that long for more to join it
// (group commit, for adds from independent requests). The entry is
// acknowledged (its index answered) once one synced append holds it,
// without waiting for Tessera's own synced writes; after a failed write
// nothing more is written or acknowledged. Sequence gives the index at once
// and a wait for the sync, for a caller that prepares its acknowledgement
// meanwhile. Recent entries are remembered, so a duplicate
// gets the first copy's index; beyond a bounded backlog ahead of Tessera an
// add is pushed back.
//
// The journal forwards what it acknowledged to Tessera in rounds (every
// 500 ms, or once a round's worth waits), in index order, each round at most
// one Tessera batch and waited for before the next, and checks that Tessera
// puts every entry at the index the journal gave it; a refused round is tried
// again only while Tessera's tree ends where it begins. Segments wholly
// integrated are removed. Should the log and what the journal acknowledged
// ever disagree, the log takes nothing more and writes why to DIR/STOPPED,
// which keeps it from opening again until someone has looked; a Tessera that
// integrates nothing for 30 s with entries waiting is reported by Err.
//
// On Open, journaled entries beyond Tessera's tree (a crash came before
// Tessera integrated them) are handed to Tessera again, under the indices
// they were acknowledged with, before anything new is taken; a torn last
// record (a write the crash interrupted, never acknowledged) is cut, and a
// journal that resumes past the tree (acknowledged entries lost) is an
// error. The log's own package owns the entry format: Config.Decode turns a
// journaled record back into its entry.
package journal
