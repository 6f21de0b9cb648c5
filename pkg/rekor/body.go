package rekor

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Body is what a stored entry says was signed, for matching a log entry to
// the signature it is supposed to record.
type Body struct {
	Kind, APIVersion string
	// hashedrekord
	DigestAlgorithm string
	Digest          []byte
	Signature       []byte
	PublicKeyPEM    []byte // PEM public key or certificate
	// dsse
	PayloadSHA256 []byte
	// EnvelopeSHA256 is a dsse 0.0.1 entry's hash of the envelope as it was
	// proposed (nil for other kinds).
	EnvelopeSHA256 []byte
	Signatures     [][]byte // envelope signatures
	VerifiersPEM   [][]byte // PEM public keys or certificates
}

// ParseBody reads a canonical hashedrekord or dsse body.
func ParseBody(body []byte) (*Body, error) {
	var p proposed
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("entry body: %w", err)
	}
	switch {
	case p.Kind == "hashedrekord" && p.APIVersion == "0.0.1":
		var s hashedRekordSpec
		if err := json.Unmarshal(p.Spec, &s); err != nil {
			return nil, fmt.Errorf("hashedrekord body: %w", err)
		}
		d, err := hex.DecodeString(s.Data.Hash.Value)
		if err != nil {
			return nil, fmt.Errorf("hashedrekord body digest: %w", err)
		}
		sig, err := base64.StdEncoding.DecodeString(s.Signature.Content)
		if err != nil {
			return nil, fmt.Errorf("hashedrekord body signature: %w", err)
		}
		pk, err := base64.StdEncoding.DecodeString(s.Signature.PublicKey.Content)
		if err != nil {
			return nil, fmt.Errorf("hashedrekord body key: %w", err)
		}
		return &Body{Kind: p.Kind, APIVersion: p.APIVersion, DigestAlgorithm: strings.ToLower(s.Data.Hash.Algorithm), Digest: d, Signature: sig, PublicKeyPEM: pk}, nil
	case p.Kind == "dsse" && p.APIVersion == "0.0.1":
		var s dsseCanonical
		if err := json.Unmarshal(p.Spec, &s); err != nil {
			return nil, fmt.Errorf("dsse body: %w", err)
		}
		ph, err := hex.DecodeString(s.PayloadHash.Value)
		if err != nil || s.PayloadHash.Algorithm != "sha256" {
			return nil, fmt.Errorf("dsse body payloadHash is not sha256 hex")
		}
		b := &Body{Kind: p.Kind, APIVersion: p.APIVersion, PayloadSHA256: ph}
		if s.EnvelopeHash.Algorithm == "sha256" {
			if eh, err := hex.DecodeString(s.EnvelopeHash.Value); err == nil && len(eh) == 32 {
				b.EnvelopeSHA256 = eh
			}
		}
		for i, sig := range s.Signatures {
			raw, err := base64.StdEncoding.DecodeString(sig.Signature)
			if err != nil {
				return nil, fmt.Errorf("dsse body signature %d: %w", i, err)
			}
			v, err := base64.StdEncoding.DecodeString(sig.Verifier)
			if err != nil {
				return nil, fmt.Errorf("dsse body verifier %d: %w", i, err)
			}
			b.Signatures, b.VerifiersPEM = append(b.Signatures, raw), append(b.VerifiersPEM, v)
		}
		return b, nil
	case (p.Kind == "hashedrekord" || p.Kind == "dsse") && p.APIVersion == "0.0.2":
		return parseV2Body(p.Kind, p.Spec)
	case p.Kind == "intoto" && p.APIVersion == "0.0.2":
		var s intotoSpec
		if err := json.Unmarshal(p.Spec, &s); err != nil {
			return nil, fmt.Errorf("intoto body: %w", err)
		}
		ph := s.Content.PayloadHash
		if ph == nil || ph.Algorithm != "sha256" {
			return nil, fmt.Errorf("intoto body payloadHash is not sha256")
		}
		d, err := hex.DecodeString(ph.Value)
		if err != nil {
			return nil, fmt.Errorf("intoto body payloadHash: %w", err)
		}
		// Same fields as a dsse body: the verifier matches both alike.
		b := &Body{Kind: p.Kind, APIVersion: p.APIVersion, PayloadSHA256: d}
		for i, sg := range s.Content.Envelope.Signatures {
			sig, err := doubleB64(sg.Sig)
			if err != nil {
				return nil, fmt.Errorf("intoto body signature %d: %w", i, err)
			}
			pk, err := base64.StdEncoding.DecodeString(sg.PublicKey)
			if err != nil {
				return nil, fmt.Errorf("intoto body publicKey %d: %w", i, err)
			}
			b.Signatures, b.VerifiersPEM = append(b.Signatures, sig), append(b.VerifiersPEM, pk)
		}
		return b, nil
	}
	return nil, fmt.Errorf("entry body kind %q version %q is not one Hallmark verifies", p.Kind, p.APIVersion)
}
