package log

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// marshalTLE writes the TransparencyLogEntry the Rekor v2 API answers in
// protobuf JSON (int64 as strings, bytes as base64), directly: protojson's
// reflection cost as much per append as the rest of the response. Entries
// with fields this log never sets go through protojson; a test holds the
// two to the same message.
func marshalTLE(t *protorekor.TransparencyLogEntry) ([]byte, error) {
	p := t.GetInclusionProof()
	if t.GetInclusionPromise() != nil || t.GetIntegratedTime() != 0 || p == nil || t.GetLogId() == nil || t.GetKindVersion() == nil {
		return protojson.Marshal(t)
	}
	b64 := base64.StdEncoding
	envelope, err := json.Marshal(p.GetCheckpoint().GetEnvelope())
	if err != nil {
		return nil, err
	}
	kind, err := json.Marshal(t.GetKindVersion().GetKind())
	if err != nil {
		return nil, err
	}
	version, err := json.Marshal(t.GetKindVersion().GetVersion())
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 512+len(envelope)+b64.EncodedLen(len(t.GetCanonicalizedBody()))+48*len(p.GetHashes()))
	b = append(b, `{"logIndex":"`...)
	b = strconv.AppendInt(b, t.GetLogIndex(), 10)
	b = append(b, `","logId":{"keyId":"`...)
	b = b64.AppendEncode(b, t.GetLogId().GetKeyId())
	b = append(b, `"},"kindVersion":{"kind":`...)
	b = append(b, kind...)
	b = append(b, `,"version":`...)
	b = append(b, version...)
	b = append(b, `},"inclusionProof":{"logIndex":"`...)
	b = strconv.AppendInt(b, p.GetLogIndex(), 10)
	b = append(b, `","rootHash":"`...)
	b = b64.AppendEncode(b, p.GetRootHash())
	b = append(b, `","treeSize":"`...)
	b = strconv.AppendInt(b, p.GetTreeSize(), 10)
	b = append(b, `","hashes":[`...)
	for i, h := range p.GetHashes() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = b64.AppendEncode(b, h)
		b = append(b, '"')
	}
	b = append(b, `],"checkpoint":{"envelope":`...)
	b = append(b, envelope...)
	b = append(b, `}},"canonicalizedBody":"`...)
	b = b64.AppendEncode(b, t.GetCanonicalizedBody())
	return append(b, `"}`...), nil
}
