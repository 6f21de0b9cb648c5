package ca

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
)

// signingCertRequest is Fulcio v2's CreateSigningCertificateRequest in
// protojson: each field under its JSON and its proto name.
type signingCertRequest struct {
	Credentials      *credentials `json:"credentials"`
	PublicKeyRequest *pkRequest   `json:"publicKeyRequest"`
	PublicKeyReqPB   *pkRequest   `json:"public_key_request"`
	CSR              *string      `json:"certificateSigningRequest"`
	CSRPB            *string      `json:"certificate_signing_request"`
}

type credentials struct {
	Token   string `json:"oidcIdentityToken"`
	TokenPB string `json:"oidc_identity_token"`
}

type pkRequest struct {
	PublicKey *publicKey `json:"publicKey"`
	PubKeyPB  *publicKey `json:"public_key"`
	Proof     string     `json:"proofOfPossession"`
	ProofPB   string     `json:"proof_of_possession"`
}

type publicKey struct {
	Algorithm string `json:"algorithm"` // ignored, as in Fulcio: the key says what it is
	Content   string `json:"content"`
}

func first[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

// signingCertResponse is Fulcio v2's SigningCertificate.
type signingCertResponse struct {
	Detached *detachedSCT `json:"signedCertificateDetachedSct,omitempty"`
	Embedded *embeddedSCT `json:"signedCertificateEmbeddedSct,omitempty"`
}

type certChain struct {
	Certificates []string `json:"certificates"`
}

type detachedSCT struct {
	Chain certChain `json:"chain"`
	SCT   string    `json:"signedCertificateTimestamp"`
}

type embeddedSCT struct {
	Chain certChain `json:"chain"`
}

// pemStrings encodes certificates as Fulcio answers them: PEM, trimmed.
func pemStrings(certs []*x509.Certificate, trim bool) []string {
	out := make([]string, len(certs))
	for i, c := range certs {
		s := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
		if trim {
			s = strings.TrimSpace(s)
		}
		out[i] = s
	}
	return out
}

// parsePublicKey reads a PKIX public key as PEM, or as the raw DER bytes of
// the string, as Fulcio does.
func parsePublicKey(content []byte) (crypto.PublicKey, error) {
	if block, _ := pem.Decode(content); block != nil {
		return x509.ParsePKIXPublicKey(block.Bytes)
	}
	return x509.ParsePKIXPublicKey(content)
}

// parseCSR reads a PEM PKCS#10 request.
func parseCSR(pemCSR []byte) (*x509.CertificateRequest, string) {
	block, _ := pem.Decode(pemCSR)
	if block == nil || (block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST") {
		return nil, "the certificate signing request is not a PEM CERTIFICATE REQUEST"
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, "the certificate signing request could not be parsed: " + err.Error()
	}
	return csr, ""
}

func decodeB64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.URLEncoding.DecodeString(s) // protojson accepts either alphabet
}
