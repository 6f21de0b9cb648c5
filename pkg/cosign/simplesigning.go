package cosign

import (
	"encoding/json"
	"fmt"
)

// SimpleSigning is cosign's legacy image-signature payload. The field order
// and names are part of the format: the signature covers these exact bytes.
type SimpleSigning struct {
	Critical Critical       `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// Critical is the part of a simple-signing payload a verifier must check.
type Critical struct {
	Identity Identity `json:"identity"`
	Image    Image    `json:"image"`
	Type     string   `json:"type"`
}

// Identity names the repository the signer meant to sign.
type Identity struct {
	DockerReference string `json:"docker-reference"`
}

// Image names the signed manifest digest.
type Image struct {
	DockerManifestDigest string `json:"docker-manifest-digest"`
}

// NewSimpleSigning returns the payload cosign signs for the manifest digest
// (sha256:<hex>) in repository repo, with optional annotations.
func NewSimpleSigning(repo, digest string, annotations map[string]any) ([]byte, error) {
	p := SimpleSigning{
		Critical: Critical{
			Identity: Identity{DockerReference: repo},
			Image:    Image{DockerManifestDigest: digest},
			Type:     SimpleSigningType,
		},
		Optional: annotations,
	}
	return json.Marshal(p)
}

// ParseSimpleSigning decodes a simple-signing payload and checks its type.
func ParseSimpleSigning(b []byte) (*SimpleSigning, error) {
	if len(b) > MaxPayloadSize {
		return nil, fmt.Errorf("simple-signing payload of %d bytes exceeds the %d byte limit", len(b), MaxPayloadSize)
	}
	var p SimpleSigning
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decoding simple-signing payload: %w", err)
	}
	if p.Critical.Type != SimpleSigningType {
		return nil, fmt.Errorf("simple-signing payload has type %q, want %q", p.Critical.Type, SimpleSigningType)
	}
	return &p, nil
}
