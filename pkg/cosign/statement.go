package cosign

import (
	"errors"
	"fmt"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// NewSignStatement returns the in-toto Statement v1 cosign v3 signs for an
// image: one subject with only the manifest digest (algorithm -> hex) and the
// user's annotations, predicate type SignPredicateType, empty predicate.
func NewSignStatement(algorithm, hex string, annotations map[string]any) ([]byte, error) {
	var ann *structpb.Struct
	if len(annotations) > 0 {
		var err error
		if ann, err = structpb.NewStruct(annotations); err != nil {
			return nil, fmt.Errorf("encoding annotations: %w", err)
		}
	}
	st := &intoto.Statement{
		Type: intoto.StatementTypeUri,
		Subject: []*intoto.ResourceDescriptor{{
			Digest:      map[string]string{algorithm: hex},
			Annotations: ann,
		}},
		PredicateType: SignPredicateType,
		Predicate:     &structpb.Struct{},
	}
	return protojson.Marshal(st)
}

// Statement is a parsed in-toto statement.
type Statement = intoto.Statement

// ParseStatement decodes an in-toto Statement, v1 or v0.1 (which cosign
// attest-blob writes; the fields are the same), and checks its structure.
func ParseStatement(b []byte) (*Statement, error) {
	if len(b) > MaxPayloadSize {
		return nil, fmt.Errorf("statement of %d bytes exceeds the %d byte limit", len(b), MaxPayloadSize)
	}
	st := &intoto.Statement{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("decoding in-toto statement: %w", err)
	}
	if err := checkStatementType(st.GetType()); err != nil {
		return nil, err
	}
	if len(st.GetSubject()) == 0 {
		return nil, errors.New("statement has no subject")
	}
	for i, s := range st.GetSubject() {
		if s == nil || len(s.GetDigest()) == 0 {
			return nil, fmt.Errorf("statement subject %d has no digest", i)
		}
	}
	if st.GetPredicateType() == "" {
		return nil, errors.New("statement has no predicateType")
	}
	return st, nil
}

// checkStatementType accepts the in-toto Statement types cosign writes and
// reads: v1, and v0.1 (attest-blob's).
func checkStatementType(t string) error {
	if t != StatementType && t != StatementTypeV01 {
		return fmt.Errorf("statement _type is %q, want %q or %q", t, StatementType, StatementTypeV01)
	}
	return nil
}
