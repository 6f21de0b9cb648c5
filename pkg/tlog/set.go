package tlog

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

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
	if !isLowerHex(logIDHex) {
		b, _ := json.Marshal(setPayload{
			Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: integratedTime,
			LogID: logIDHex, LogIndex: logIndex,
		})
		return b
	}
	// Written directly (the log signs one per append): base64 and hex need
	// no escaping, so these are the bytes encoding/json writes.
	b64 := base64.StdEncoding
	b := make([]byte, 0, 80+b64.EncodedLen(len(body))+len(logIDHex))
	b = append(b, `{"body":"`...)
	b = b64.AppendEncode(b, body)
	b = append(b, `","integratedTime":`...)
	b = strconv.AppendInt(b, integratedTime, 10)
	b = append(b, `,"logID":"`...)
	b = append(b, logIDHex...)
	b = append(b, `","logIndex":`...)
	b = strconv.AppendInt(b, logIndex, 10)
	return append(b, '}')
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
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
