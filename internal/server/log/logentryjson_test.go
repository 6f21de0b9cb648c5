package log

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"hallmark.dev/hallmark/pkg/rekor"
)

// marshalLogEntry writes exactly what encoding/json writes for the same
// value, including strings that need escaping.
func TestMarshalLogEntryIsEncodingJSON(t *testing.T) {
	for i := 0; i < 40; i++ {
		hashes := make([]string, i%18)
		for j := range hashes {
			hashes[j] = fmt.Sprintf("%064x", j*i+1)
		}
		le := &rekor.LogEntry{
			Body: "eyJhcGlWZXJzaW9uIjoiMC4wLjEifQ==", IntegratedTime: int64(1700000000 + i), LogID: fmt.Sprintf("%064x", i), LogIndex: int64(i * 7),
			Verification: &rekor.Verification{
				InclusionProof: &rekor.InclusionProof{
					Checkpoint: "hallmark.local/log - 42\n" + fmt.Sprint(i*7+1) + "\nroot+/=\n\n\u2014 hallmark.local/log <&> \"q\" \\ \u2028 \x01\n",
					Hashes:     hashes, LogIndex: int64(i * 7), RootHash: fmt.Sprintf("%064x", i+5), TreeSize: int64(i*7 + 1),
				},
				SignedEntryTimestamp: bytes.Repeat([]byte{byte(i)}, 70+i%3),
			},
		}
		if i%5 == 4 {
			le.Verification.SignedEntryTimestamp = nil
		}
		if i%13 == 12 {
			le.Verification = nil // not an append's answer: encoding/json's path
		}
		want, err := json.Marshal(map[string]*rekor.LogEntry{"uuid" + fmt.Sprint(i): le})
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalLogEntry("uuid"+fmt.Sprint(i), le)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	}
}
