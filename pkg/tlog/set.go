package tlog

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"hallmark.dev/hallmark/pkg/keys"
)

// setPayload is what a Rekor v1 signed entry timestamp covers. Its fields
// are in RFC 8785 order and hold only base64, hex and integers, so
// encoding/json without HTML escaping yields the canonical form.
type setPayload struct {
	Body           string `json:"body"`
	IntegratedTime int64  `json:"integratedTime"`
	LogID          string `json:"logID"`
	LogIndex       int64  `json:"logIndex"`
}

// SETPayload returns the canonical JSON a SET signs: the base64 body,
// integrated time, hex log ID and log index.
func SETPayload(body []byte, integratedTime, logIndex int64, logIDHex string) []byte {
	b, _ := json.Marshal(setPayload{
		Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: integratedTime,
		LogID: logIDHex, LogIndex: logIndex,
	})
	return b
}

// SignSET signs an entry's SET with the log key, deterministically (RFC 6979
// for ECDSA): an entry has one SET however often it is fetched, and signing
// skips the hedged nonce's SHA-512 DRBG (a sixth of the cost of a SET).
func SignSET(logKey crypto.Signer, body []byte, integratedTime, logIndex int64, logIDHex string) ([]byte, error) {
	return keys.SignDeterministic(logKey, SETPayload(body, integratedTime, logIndex, logIDHex))
}

// VerifySET checks a SET against the log key.
func VerifySET(logKey crypto.PublicKey, set, body []byte, integratedTime, logIndex int64, logIDHex string) error {
	if len(set) == 0 {
		return fmt.Errorf("%w: no signed entry timestamp", ErrSET)
	}
	if err := keys.Verify(logKey, SETPayload(body, integratedTime, logIndex, logIDHex), set); err != nil {
		return fmt.Errorf("%w: %v", ErrSET, err)
	}
	return nil
}
