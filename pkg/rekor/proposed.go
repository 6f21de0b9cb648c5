package rekor

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// NewHashedRekord returns a hashedrekord 0.0.1 proposed entry: a signature
// over a SHA-256 digest, and the signer's PEM public key or certificate.
func NewHashedRekord(sha256Digest, sig, pubPEM []byte) ([]byte, error) {
	return NewHashedRekordHash("sha256", sha256Digest, sig, pubPEM)
}

// NewHashedRekordHash is NewHashedRekord over a digest under alg ("sha256",
// "sha384", "sha512"): the key's hash, which the signature is over.
func NewHashedRekordHash(alg string, digest, sig, pubPEM []byte) ([]byte, error) {
	h, ok := hashSizes[alg]
	if !ok || len(digest) != h.Size() {
		return nil, fmt.Errorf("hashedrekord: a %d-byte digest is not %s", len(digest), alg)
	}
	var s hashedRekordSpec
	s.Data.Hash.Algorithm = alg
	s.Data.Hash.Value = hex.EncodeToString(digest)
	s.Signature.Content = base64.StdEncoding.EncodeToString(sig)
	s.Signature.PublicKey.Content = base64.StdEncoding.EncodeToString(pubPEM)
	return json.Marshal(entryJSON{"0.0.1", "hashedrekord", s})
}

// NewDSSE returns a dsse 0.0.1 proposed entry for an envelope signed by the
// key (or certificate) pubPEM.
func NewDSSE(payloadType string, payload, sig, pubPEM []byte) ([]byte, error) {
	envJSON, err := MarshalDSSEEnvelope(payloadType, payload, sig)
	if err != nil {
		return nil, err
	}
	return NewDSSEFromEnvelope(envJSON, pubPEM)
}

// MarshalDSSEEnvelope is the envelope JSON a dsse entry is proposed with.
// Rekor records the SHA-256 of these very bytes (envelopeHash), and cosign
// checks a legacy attestation layer against it: the layer must hold the same
// bytes.
func MarshalDSSEEnvelope(payloadType string, payload, sig []byte) ([]byte, error) {
	env := envelope{PayloadType: payloadType, Payload: payload}
	env.Signatures = append(env.Signatures, struct {
		KeyID string `json:"keyid"`
		Sig   []byte `json:"sig"`
	}{Sig: sig})
	return json.Marshal(env)
}

// NewDSSEFromEnvelope returns a dsse 0.0.1 proposed entry for an envelope
// given as JSON, verified by pubPEM.
func NewDSSEFromEnvelope(envJSON, pubPEM []byte) ([]byte, error) {
	var p dsseProposed
	p.ProposedContent = &struct {
		Envelope  string   `json:"envelope"`
		Verifiers []string `json:"verifiers"`
	}{Envelope: string(envJSON), Verifiers: []string{base64.StdEncoding.EncodeToString(pubPEM)}}
	return json.Marshal(entryJSON{"0.0.1", "dsse", p})
}
