package cosign

import (
	"bytes"
	"fmt"
	"strings"

	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// TrustedRoot is a Sigstore trusted root (protobuf-specs
// dev.sigstore.trustroot.v1.TrustedRoot): the logs, CAs and TSAs a verifier
// trusts.
type TrustedRoot = prototrustroot.TrustedRoot

const trustedRootMediaTypePrefix = "application/vnd.dev.sigstore.trustedroot"

// ParseTrustedRoot decodes a trusted root JSON file and checks its media type.
func ParseTrustedRoot(data []byte) (*TrustedRoot, error) {
	if len(data) > MaxPayloadSize {
		return nil, fmt.Errorf("trusted root of %d bytes exceeds the %d byte limit", len(data), MaxPayloadSize)
	}
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("not a trusted root: a trusted root is a JSON object (application/vnd.dev.sigstore.trustedroot+json), and this starts with %.20q", t)
	}
	tr := &TrustedRoot{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, tr); err != nil {
		return nil, fmt.Errorf("decoding trusted root: %w", err)
	}
	if !strings.HasPrefix(tr.GetMediaType(), trustedRootMediaTypePrefix) {
		return nil, fmt.Errorf("trusted root mediaType is %q, want %s+json;version=0.1 or later", tr.GetMediaType(), trustedRootMediaTypePrefix)
	}
	return tr, nil
}
