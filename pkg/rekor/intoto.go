package rekor

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
)

// intoto 0.0.2 carries the DSSE envelope's base64 strings base64-encoded
// once more: payload = base64(base64(payload)), sig = base64(base64(sig)),
// publicKey = base64(PEM).
type intotoSignature struct {
	KeyID     string `json:"keyid,omitempty"`
	PublicKey string `json:"publicKey"`
	Sig       string `json:"sig"`
}

type intotoSpec struct {
	Content struct {
		Envelope struct {
			Payload     string            `json:"payload,omitempty"`
			PayloadType string            `json:"payloadType"`
			Signatures  []intotoSignature `json:"signatures"`
		} `json:"envelope"`
		Hash        *hashValue `json:"hash,omitempty"`
		PayloadHash *hashValue `json:"payloadHash,omitempty"`
	} `json:"content"`
}

// doubleB64 decodes base64(base64(x)) to x.
func doubleB64(s string) ([]byte, error) {
	inner, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(string(inner))
}

func parseIntoto(raw json.RawMessage) (*Entry, error) {
	var s intotoSpec
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("spec: %v", err)
	}
	env := &s.Content.Envelope
	if env.PayloadType == "" || env.Payload == "" {
		return nil, errors.New("content.envelope needs payloadType and payload")
	}
	if n := len(env.Signatures); n == 0 || n > maxDSSESignatures {
		return nil, fmt.Errorf("content.envelope has %d signatures, want 1 to %d", n, maxDSSESignatures)
	}
	h := s.Content.Hash
	if h == nil || strings.ToLower(h.Algorithm) != "sha256" {
		return nil, errors.New("content.hash must be the envelope's sha256")
	}
	if d, err := hex.DecodeString(h.Value); err != nil || len(d) != sha256.Size {
		return nil, errors.New("content.hash.value is not 32 hex-encoded bytes")
	}
	payload, err := doubleB64(env.Payload)
	if err != nil {
		return nil, errors.New("content.envelope.payload is not base64 of the envelope's base64 payload")
	}
	pae := cosign.PAE(env.PayloadType, payload)
	var searchKeys []string
	for i, sg := range env.Signatures {
		sig, err := doubleB64(sg.Sig)
		if err != nil {
			return nil, fmt.Errorf("signature %d is not base64 of the envelope's base64 signature", i)
		}
		pemBytes, err := base64.StdEncoding.DecodeString(sg.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("signature %d publicKey is not base64", i)
		}
		pub, sk, err := parseVerifier(pemBytes)
		if err != nil {
			return nil, fmt.Errorf("signature %d publicKey: %v", i, err)
		}
		if err := keys.Verify(pub, pae, sig); err != nil {
			return nil, fmt.Errorf("signature %d does not verify under its publicKey", i)
		}
		searchKeys = append(searchKeys, sk...)
	}
	ph := sha256.Sum256(payload)
	s.Content.PayloadHash = &hashValue{"sha256", hex.EncodeToString(ph[:])}
	h.Algorithm, h.Value = "sha256", strings.ToLower(h.Value)
	env.Payload = "" // the canonical body keeps hashes, not the attestation
	body, err := canonical(entryJSON{"0.0.2", "intoto", s})
	if err != nil {
		return nil, err
	}
	searchKeys = append(searchKeys, "sha256:"+hex.EncodeToString(ph[:]))
	if st, err := cosign.ParseStatement(payload); err == nil && env.PayloadType == cosign.InTotoPayloadType {
		for _, subj := range st.GetSubject() {
			for alg, d := range subj.GetDigest() {
				searchKeys = append(searchKeys, alg+":"+d)
			}
		}
	}
	return &Entry{Kind: "intoto", APIVersion: "0.0.2", Body: body, Keys: searchKeys}, nil
}

// NewIntoto returns an intoto 0.0.2 proposed entry for an envelope signed
// by the key (or certificate) pubPEM, as cosign's attest uploads it.
func NewIntoto(payloadType string, payload, sig, pubPEM []byte) ([]byte, error) {
	b64 := base64.StdEncoding
	envJSON, err := json.Marshal(map[string]any{"payloadType": payloadType, "payload": b64.EncodeToString(payload),
		"signatures": []map[string]string{{"sig": b64.EncodeToString(sig)}}})
	if err != nil {
		return nil, err
	}
	var s intotoSpec
	s.Content.Envelope.PayloadType = payloadType
	s.Content.Envelope.Payload = b64.EncodeToString([]byte(b64.EncodeToString(payload)))
	s.Content.Envelope.Signatures = []intotoSignature{{PublicKey: b64.EncodeToString(pubPEM), Sig: b64.EncodeToString([]byte(b64.EncodeToString(sig)))}}
	h := sha256.Sum256(envJSON)
	s.Content.Hash = &hashValue{"sha256", hex.EncodeToString(h[:])}
	return json.Marshal(entryJSON{"0.0.2", "intoto", s})
}
