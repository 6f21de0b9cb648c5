package log

import (
	"crypto/rand"
	"testing"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func randomBytes(n int) []byte { b := make([]byte, n); _, _ = rand.Read(b); return b }

// What marshalTLE writes, protojson reads back as the same message; entries
// it does not write itself go through protojson.
func TestMarshalTLEIsProtoJSON(t *testing.T) {
	for i := 0; i < 50; i++ {
		hashes := make([][]byte, i%20)
		for j := range hashes {
			hashes[j] = randomBytes(32)
		}
		tle := &protorekor.TransparencyLogEntry{
			LogIndex:    int64(i * 1000003),
			LogId:       &protocommon.LogId{KeyId: randomBytes(32)},
			KindVersion: &protorekor.KindVersion{Kind: "hashedrekord", Version: "0.0.2"},
			InclusionProof: &protorekor.InclusionProof{
				LogIndex: int64(i * 1000003), RootHash: randomBytes(32), TreeSize: int64(i*1000003 + 1), Hashes: hashes,
				Checkpoint: &protorekor.Checkpoint{Envelope: "log.example \"quoted\" \\ \u2028\n42\nroot=\n\n\u2014 log.example AbCd+/==\n"},
			},
			CanonicalizedBody: randomBytes(i * 13),
		}
		if i%10 == 9 {
			tle.IntegratedTime = 1700000000 // not a Rekor v2 field: protojson's path
		}
		b, err := marshalTLE(tle)
		if err != nil {
			t.Fatal(err)
		}
		var back protorekor.TransparencyLogEntry
		if err := protojson.Unmarshal(b, &back); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		if !proto.Equal(tle, &back) {
			t.Fatalf("round trip differs:\n%v\n%v", tle, &back)
		}
	}
}
