package rekor

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
)

type dsseProposed struct {
	ProposedContent *struct {
		Envelope  string   `json:"envelope"`
		Verifiers []string `json:"verifiers"`
	} `json:"proposedContent"`
}

// envelope is a DSSE envelope in its JSON form.
type envelope struct {
	PayloadType string `json:"payloadType"`
	Payload     []byte `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   []byte `json:"sig"`
	} `json:"signatures"`
}

type hashValue struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value"`
}

type dsseSignature struct {
	Signature string `json:"signature"`
	Verifier  string `json:"verifier"`
}

type dsseCanonical struct {
	EnvelopeHash hashValue       `json:"envelopeHash"`
	PayloadHash  hashValue       `json:"payloadHash"`
	Signatures   []dsseSignature `json:"signatures"`
}

const maxDSSESignatures = 16

func parseDSSE(raw json.RawMessage) (*Entry, error) {
	var p dsseProposed
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("spec: %v", err)
	}
	if p.ProposedContent == nil || p.ProposedContent.Envelope == "" {
		return nil, errors.New("spec.proposedContent.envelope is missing")
	}
	var env envelope
	if err := json.Unmarshal([]byte(p.ProposedContent.Envelope), &env); err != nil {
		return nil, fmt.Errorf("envelope: %v", err)
	}
	if n := len(env.Signatures); n == 0 || n > maxDSSESignatures {
		return nil, fmt.Errorf("envelope has %d signatures, want 1 to %d", n, maxDSSESignatures)
	}
	if len(p.ProposedContent.Verifiers) == 0 {
		return nil, errors.New("spec.proposedContent.verifiers is empty")
	}
	type verifier struct {
		pemB64 string
		pub    any
		keys   []string
	}
	var vs []verifier
	for i, v := range p.ProposedContent.Verifiers {
		pemBytes, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("verifier %d is not base64", i)
		}
		pub, sk, err := parseVerifier(pemBytes)
		if err != nil {
			return nil, fmt.Errorf("verifier %d: %v", i, err)
		}
		vs = append(vs, verifier{v, pub, sk})
	}
	pae := cosign.PAE(env.PayloadType, env.Payload)
	var (
		sigs       []dsseSignature
		searchKeys []string
	)
	for i, s := range env.Signatures {
		matched := false
		for _, v := range vs {
			if keys.Verify(v.pub, pae, s.Sig) == nil {
				sigs = append(sigs, dsseSignature{Signature: base64.StdEncoding.EncodeToString(s.Sig), Verifier: v.pemB64})
				searchKeys = append(searchKeys, v.keys...)
				matched = true
				break
			}
		}
		if !matched {
			return nil, fmt.Errorf("envelope signature %d verifies under none of the verifiers", i)
		}
	}
	sort.Slice(sigs, func(i, j int) bool { return sigs[i].Signature < sigs[j].Signature })
	payloadHash := sha256.Sum256(env.Payload)
	envelopeHash := sha256.Sum256([]byte(p.ProposedContent.Envelope))
	body, err := canonical(entryJSON{"0.0.1", "dsse", dsseCanonical{
		EnvelopeHash: hashValue{"sha256", hex.EncodeToString(envelopeHash[:])},
		PayloadHash:  hashValue{"sha256", hex.EncodeToString(payloadHash[:])},
		Signatures:   sigs,
	}})
	if err != nil {
		return nil, err
	}
	searchKeys = append(searchKeys, "sha256:"+hex.EncodeToString(payloadHash[:]))
	if env.PayloadType == cosign.InTotoPayloadType {
		if st, err := cosign.ParseStatement(env.Payload); err == nil {
			for _, subj := range st.GetSubject() {
				for alg, d := range subj.GetDigest() {
					searchKeys = append(searchKeys, alg+":"+d)
				}
			}
		}
	}
	return &Entry{Kind: "dsse", APIVersion: "0.0.1", Body: body, Keys: searchKeys}, nil
}
