package log

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	"hallmark.dev/hallmark/pkg/rekor"
)

// marshalLogEntry writes Rekor v1's answer to an append, {uuid: entry},
// directly rather than through encoding/json's reflection (a few percent
// of the log's CPU per append). Entries without the evidence an append
// always carries go through encoding/json; a test holds the two to the
// same value.
func marshalLogEntry(uuid string, le *rekor.LogEntry) ([]byte, error) {
	v := le.Verification
	if v == nil || v.InclusionProof == nil {
		return json.Marshal(map[string]*rekor.LogEntry{uuid: le})
	}
	p := v.InclusionProof
	b64 := base64.StdEncoding
	b := make([]byte, 0, 320+len(le.Body)+len(p.Checkpoint)+66*len(p.Hashes)+b64.EncodedLen(len(v.SignedEntryTimestamp)))
	b = append(b, '{')
	b = appendJSONString(b, uuid)
	b = append(b, `:{"body":`...)
	b = appendJSONString(b, le.Body)
	b = append(b, `,"integratedTime":`...)
	b = strconv.AppendInt(b, le.IntegratedTime, 10)
	b = append(b, `,"logID":`...)
	b = appendJSONString(b, le.LogID)
	b = append(b, `,"logIndex":`...)
	b = strconv.AppendInt(b, le.LogIndex, 10)
	b = append(b, `,"verification":{"inclusionProof":{"checkpoint":`...)
	b = appendJSONString(b, p.Checkpoint)
	b = append(b, `,"hashes":[`...)
	for i, h := range p.Hashes {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, h)
	}
	b = append(b, `],"logIndex":`...)
	b = strconv.AppendInt(b, p.LogIndex, 10)
	b = append(b, `,"rootHash":`...)
	b = appendJSONString(b, p.RootHash)
	b = append(b, `,"treeSize":`...)
	b = strconv.AppendInt(b, p.TreeSize, 10)
	b = append(b, '}')
	if len(v.SignedEntryTimestamp) > 0 {
		b = append(b, `,"signedEntryTimestamp":"`...)
		b = b64.AppendEncode(b, v.SignedEntryTimestamp)
		b = append(b, '"')
	}
	return append(b, "}}}"...), nil
}

// appendJSONString appends s as a JSON string: directly when it is plain
// printable ASCII (hex, base64), else as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
