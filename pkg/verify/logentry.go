package verify

import (
	"bytes"
	"errors"
	"fmt"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"hallmark.dev/hallmark/pkg/tlog"
	"hallmark.dev/hallmark/pkg/trust"
)

// LogEntry checks an entry fetched from a log on its own (rekor-cli's
// verify): it names lg, its SET (when it has one) verifies under lg's key,
// and its inclusion proof verifies under a checkpoint lg signed.
func LogEntry(tle *protorekor.TransparencyLogEntry, lg *trust.Log) error {
	if !bytes.Equal(tle.GetLogId().GetKeyId(), lg.ID) {
		return fmt.Errorf("entry is from log %x, not the trusted log %x", tle.GetLogId().GetKeyId(), lg.ID)
	}
	if tle.GetInclusionProof() == nil {
		return errors.New("entry has no inclusion proof")
	}
	body := tle.GetCanonicalizedBody()
	if p := tle.GetInclusionPromise(); p != nil {
		if err := tlog.VerifySET(lg.Key, p.GetSignedEntryTimestamp(), body, tle.GetIntegratedTime(), tle.GetLogIndex(), fmt.Sprintf("%x", lg.ID)); err != nil {
			return err
		}
	}
	return verifyProof(lg, tle, body)
}

// LogGrowth checks that a log's current signed checkpoint extends a tree it
// showed earlier (size and root): the log only grew, never forked or
// rewrote what it had published.
func LogGrowth(oldSize uint64, oldRoot []byte, cur *tlog.Checkpoint, hashes [][]byte) error {
	if cur.Size < oldSize {
		return fmt.Errorf("%w: the log shrank from size %d to %d", tlog.ErrConsistency, oldSize, cur.Size)
	}
	return tlog.VerifyConsistency(oldSize, cur.Size, hashes, oldRoot, cur.Hash)
}
