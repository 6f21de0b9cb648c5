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

// RFC3161Annotation is the legacy "dev.sigstore.cosign/rfc3161timestamp"
// layer annotation: a DER TimeStampResp over the raw signature bytes.
type RFC3161Annotation struct {
	SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
}

// ParseRFC3161Annotation decodes the legacy timestamp annotation.
func ParseRFC3161Annotation(s string) ([]byte, error) {
	if len(s) > MaxPayloadSize {
		return nil, fmt.Errorf("rfc3161timestamp annotation of %d bytes exceeds the %d byte limit", len(s), MaxPayloadSize)
	}
	var a RFC3161Annotation
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return nil, fmt.Errorf("decoding rfc3161timestamp annotation: %w", err)
	}
	if len(a.SignedRFC3161Timestamp) == 0 {
		return nil, errors.New("rfc3161timestamp annotation has no SignedRFC3161Timestamp")
	}
	return a.SignedRFC3161Timestamp, nil
}

// LocalSignedPayload is cosign's legacy blob bundle (`sign-blob --bundle`
// with --new-bundle-format=false): the base64 signature, the signing
// certificate (base64 of its PEM) when keyless, and the log entry's SET.
type LocalSignedPayload struct {
	Base64Signature string       `json:"base64Signature"`
	Cert            string       `json:"cert,omitempty"`
	RekorBundle     *RekorBundle `json:"rekorBundle,omitempty"`
}

// ParseLocalSignedPayload reads a legacy blob bundle. It reports false when
// data is not one (then it may be a Sigstore bundle).
func ParseLocalSignedPayload(data []byte) (*LocalSignedPayload, bool, error) {
	if len(data) > MaxPayloadSize {
		return nil, false, fmt.Errorf("legacy bundle of %d bytes exceeds the %d byte limit", len(data), MaxPayloadSize)
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(data, &probe) != nil || probe["base64Signature"] == nil {
		return nil, false, nil
	}
	var p LocalSignedPayload
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, true, fmt.Errorf("decoding legacy bundle: %w", err)
	}
	if p.Base64Signature == "" {
		return nil, true, errors.New("legacy bundle has no base64Signature")
	}
	return &p, true, nil
}
