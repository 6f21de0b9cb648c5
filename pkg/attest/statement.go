package attest

import (
	"encoding/json"
	"fmt"
)

// StatementV01 and StatementV1 are the in-toto Statement types: cosign
// attests with v0.1; both are read.
const (
	StatementV01 = "https://in-toto.io/Statement/v0.1"
	StatementV1  = "https://in-toto.io/Statement/v1"
)

// statement is written field by field so that the predicate's bytes go in
// unchanged (no float64 round trip of numbers, no reordering).
type statement struct {
	Type          string          `json:"_type"`
	Subject       []subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// NewStatement returns the in-toto statement attesting predicate about one
// subject: an image (name = its repository, as cosign names it) or a blob
// (name = its file name), with its SHA-256 digest in hex.
func NewStatement(name, sha256Hex, predicateType string, predicate json.RawMessage) ([]byte, error) {
	if len(sha256Hex) != 64 {
		return nil, fmt.Errorf("subject digest %q is not 64 hex digits", sha256Hex)
	}
	return json.Marshal(statement{
		Type:          StatementV01,
		Subject:       []subject{{Name: name, Digest: map[string]string{"sha256": sha256Hex}}},
		PredicateType: predicateType,
		Predicate:     predicate,
	})
}
