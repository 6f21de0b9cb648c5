package rekor

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
)

// LogEntry is one entry as Rekor's v1 API returns it (LogEntryAnon), keyed
// by UUID in responses.
type LogEntry struct {
	Body           string        `json:"body"` // base64 of the canonical body
	IntegratedTime int64         `json:"integratedTime"`
	LogID          string        `json:"logID"` // hex SHA-256 of the log key
	LogIndex       int64         `json:"logIndex"`
	Verification   *Verification `json:"verification,omitempty"`
}

// Verification is the evidence attached to an entry.
type Verification struct {
	InclusionProof       *InclusionProof `json:"inclusionProof,omitempty"`
	SignedEntryTimestamp []byte          `json:"signedEntryTimestamp,omitempty"` // base64 in JSON
}

// InclusionProof proves an entry is in the tree the checkpoint commits to.
type InclusionProof struct {
	Checkpoint string   `json:"checkpoint"`
	Hashes     []string `json:"hashes"` // hex
	LogIndex   int64    `json:"logIndex"`
	RootHash   string   `json:"rootHash"` // hex
	TreeSize   int64    `json:"treeSize"`
}

// ToTLE converts a v1 API entry into the bundle's TransparencyLogEntry.
func ToTLE(e *LogEntry) (*protorekor.TransparencyLogEntry, error) {
	body, err := base64.StdEncoding.DecodeString(e.Body)
	if err != nil {
		return nil, fmt.Errorf("entry body is not base64: %w", err)
	}
	kind, version, err := Kind(body)
	if err != nil {
		return nil, err
	}
	logID, err := hex.DecodeString(e.LogID)
	if err != nil {
		return nil, fmt.Errorf("logID is not hex: %w", err)
	}
	tle := &protorekor.TransparencyLogEntry{
		LogIndex:          e.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kind, Version: version},
		IntegratedTime:    e.IntegratedTime,
		CanonicalizedBody: body,
	}
	if v := e.Verification; v != nil {
		if len(v.SignedEntryTimestamp) > 0 {
			tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: v.SignedEntryTimestamp}
		}
		if p := v.InclusionProof; p != nil {
			root, err := hex.DecodeString(p.RootHash)
			if err != nil {
				return nil, fmt.Errorf("rootHash is not hex: %w", err)
			}
			hashes := make([][]byte, len(p.Hashes))
			for i, h := range p.Hashes {
				if hashes[i], err = hex.DecodeString(h); err != nil {
					return nil, fmt.Errorf("inclusion proof hash %d is not hex: %w", i, err)
				}
			}
			tle.InclusionProof = &protorekor.InclusionProof{
				LogIndex: p.LogIndex, RootHash: root, TreeSize: p.TreeSize, Hashes: hashes,
				Checkpoint: &protorekor.Checkpoint{Envelope: p.Checkpoint},
			}
		}
	}
	return tle, nil
}
