package cosign

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// RekorBundle is the legacy "dev.sigstore.cosign/bundle" layer annotation:
// a Rekor v1 entry's SET and the payload it signs (no inclusion proof).
type RekorBundle struct {
	SignedEntryTimestamp []byte             `json:"SignedEntryTimestamp"`
	Payload              RekorBundlePayload `json:"Payload"`
}

// RekorBundlePayload is what the SET covers.
type RekorBundlePayload struct {
	Body           string `json:"body"` // base64 canonical entry body
	IntegratedTime int64  `json:"integratedTime"`
	LogIndex       int64  `json:"logIndex"`
	LogID          string `json:"logID"` // hex
}

// ParseRekorBundle decodes a legacy bundle annotation and returns it with
// its decoded entry body.
func ParseRekorBundle(s string) (*RekorBundle, []byte, error) {
	if len(s) > MaxPayloadSize {
		return nil, nil, fmt.Errorf("rekor bundle annotation of %d bytes exceeds the %d byte limit", len(s), MaxPayloadSize)
	}
	var b RekorBundle
	if err := json.Unmarshal([]byte(s), &b); err != nil {
		return nil, nil, fmt.Errorf("decoding rekor bundle annotation: %w", err)
	}
	if len(b.SignedEntryTimestamp) == 0 {
		return nil, nil, errors.New("rekor bundle annotation has no SignedEntryTimestamp")
	}
	body, err := base64.StdEncoding.DecodeString(b.Payload.Body)
	if err != nil || len(body) == 0 {
		return nil, nil, errors.New("rekor bundle annotation body is not base64")
	}
	return &b, body, nil
}

// MarshalRekorBundle encodes a legacy bundle annotation.
func MarshalRekorBundle(b *RekorBundle) (string, error) {
	out, err := json.Marshal(b)
	return string(out), err
}
