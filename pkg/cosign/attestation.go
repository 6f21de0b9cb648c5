package cosign

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Envelope is a DSSE envelope in its JSON form, as a legacy attestation
// layer holds it and as cosign prints verified attestations: payload and
// signatures are base64 in JSON.
type Envelope struct {
	Payload     []byte              `json:"payload"`
	PayloadType string              `json:"payloadType"`
	Signatures  []EnvelopeSignature `json:"signatures"`
}

// EnvelopeSignature is one signature of an envelope.
type EnvelopeSignature struct {
	KeyID string `json:"keyid,omitempty"`
	Sig   []byte `json:"sig"`
}

// ParseEnvelope decodes a DSSE envelope and checks it has a payload type
// and at least one signature.
func ParseEnvelope(b []byte) (*Envelope, error) {
	if len(b) > MaxBlobSize {
		return nil, fmt.Errorf("DSSE envelope of %d bytes exceeds the %d byte limit", len(b), MaxBlobSize)
	}
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decoding DSSE envelope: %w", err)
	}
	if e.PayloadType == "" {
		return nil, errors.New("DSSE envelope has no payloadType")
	}
	if len(e.Signatures) == 0 {
		return nil, errors.New("DSSE envelope has no signatures")
	}
	for i, s := range e.Signatures {
		if len(s.Sig) == 0 {
			return nil, fmt.Errorf("DSSE envelope signature %d is empty", i)
		}
	}
	return &e, nil
}

// MarshalEnvelope encodes an envelope as cosign prints it.
func MarshalEnvelope(e *Envelope) ([]byte, error) { return json.Marshal(e) }

// WriteEnvelope writes e as MarshalEnvelope encodes it, streaming the
// base64 of the payload (megabytes, for an SBOM) instead of building it.
func WriteEnvelope(w io.Writer, e *Envelope) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	str := func(s string) {
		b, _ := json.Marshal(s)
		bw.Write(b)
	}
	bw.WriteString(`{"payload":"`)
	enc := base64.NewEncoder(base64.StdEncoding, bw)
	enc.Write(e.Payload)
	enc.Close()
	bw.WriteString(`","payloadType":`)
	str(e.PayloadType)
	bw.WriteString(`,"signatures":[`)
	for i, s := range e.Signatures {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('{')
		if s.KeyID != "" {
			bw.WriteString(`"keyid":`)
			str(s.KeyID)
			bw.WriteByte(',')
		}
		bw.WriteString(`"sig":`)
		str(base64.StdEncoding.EncodeToString(s.Sig))
		bw.WriteByte('}')
	}
	bw.WriteString("]}")
	return bw.Flush()
}

// AttestationStatement is an in-toto statement read for its claims (the
// predicate is left in the statement's bytes).
type AttestationStatement struct {
	Type          string
	Subject       []Subject
	PredicateType string
}

// Subject is one statement subject.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// ParseAttestationStatement decodes an in-toto Statement v0.1 or v1 and
// checks its structure: a known _type, subjects with digests, a predicate type.
func ParseAttestationStatement(b []byte) (*AttestationStatement, error) {
	if len(b) > MaxBlobSize {
		return nil, fmt.Errorf("statement of %d bytes exceeds the %d byte limit", len(b), MaxBlobSize)
	}
	// Keys are matched exactly, as policies (Rego, CUE) read them:
	// encoding/json's case-insensitive field matching would let a statement
	// carrying both "predicateType" and "PREDICATETYPE" show the type check
	// one value and a policy another.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("decoding in-toto statement: %w", err)
	}
	var st struct {
		Type          string
		Subject       []Subject
		PredicateType string
	}
	for k, v := range top {
		var dst any
		switch k {
		case "_type":
			dst = &st.Type
		case "subject":
			subs, err := parseSubjects(v)
			if err != nil {
				return nil, err
			}
			st.Subject = subs
			continue
		case "predicateType":
			dst = &st.PredicateType
		case "predicate":
			continue
		default:
			for _, known := range []string{"_type", "subject", "predicateType", "predicate"} {
				if strings.EqualFold(k, known) {
					return nil, fmt.Errorf("statement has a key %q beside %q: in-toto keys are case-sensitive", k, known)
				}
			}
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return nil, fmt.Errorf("statement %s: %w", k, err)
		}
	}
	if err := checkStatementType(st.Type); err != nil {
		return nil, err
	}
	if len(st.Subject) == 0 {
		return nil, errors.New("statement has no subject")
	}
	for i, s := range st.Subject {
		if len(s.Digest) == 0 {
			return nil, fmt.Errorf("statement subject %d has no digest", i)
		}
	}
	if st.PredicateType == "" {
		return nil, errors.New("statement has no predicateType")
	}
	return &AttestationStatement{Type: st.Type, Subject: st.Subject, PredicateType: st.PredicateType}, nil
}

// parseSubjects reads the subject list with its keys matched exactly too:
// a subject carrying "Digest" beside "digest" would show the subject check
// one digest and a policy another.
func parseSubjects(v json.RawMessage) ([]Subject, error) {
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil {
		return nil, fmt.Errorf("statement subject: %w", err)
	}
	out := make([]Subject, len(raw))
	for i, m := range raw {
		for k := range m {
			for _, known := range []string{"name", "digest"} {
				if k != known && strings.EqualFold(k, known) {
					return nil, fmt.Errorf("statement subject %d has a key %q: in-toto keys are case-sensitive (want %q)", i, k, known)
				}
			}
		}
		if n, ok := m["name"]; ok {
			if err := json.Unmarshal(n, &out[i].Name); err != nil {
				return nil, fmt.Errorf("statement subject %d name: %w", i, err)
			}
		}
		if d, ok := m["digest"]; ok {
			if err := json.Unmarshal(d, &out[i].Digest); err != nil {
				return nil, fmt.Errorf("statement subject %d digest: %w", i, err)
			}
		}
	}
	return out, nil
}
