package attest

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Predicate type URIs, as cosign writes them.
const (
	CustomURI     = "https://cosign.sigstore.dev/attestation/v1"
	SLSA02URI     = "https://slsa.dev/provenance/v0.2"
	SLSA1URI      = "https://slsa.dev/provenance/v1"
	SPDXURI       = "https://spdx.dev/Document"
	CycloneDXURI  = "https://cyclonedx.org/bom"
	LinkURI       = "https://in-toto.io/Link/v1"
	VulnURI       = "https://cosign.sigstore.dev/attestation/vuln/v1"
	OpenVEXURI    = "https://openvex.dev/ns"
	SignatureURI  = "https://sigstore.dev/cosign/sign/v1" // an image signature, never an attestation
	defaultTypeID = "custom"
)

// shortTypes maps cosign's --type names to predicate type URIs.
var shortTypes = map[string]string{
	"custom":           CustomURI,
	"slsaprovenance":   SLSA02URI,
	"slsaprovenance02": SLSA02URI,
	"slsaprovenance1":  SLSA1URI,
	"spdx":             SPDXURI,
	"spdxjson":         SPDXURI,
	"cyclonedx":        CycloneDXURI,
	"link":             LinkURI,
	"vuln":             VulnURI,
	"openvex":          OpenVEXURI,
}

// ShortTypes lists the --type names, sorted.
func ShortTypes() []string {
	out := make([]string, 0, len(shortTypes))
	for k := range shortTypes {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// PredicateURI returns the predicate type URI for a --type value: one of
// cosign's names, or a URI given as is. An image signature's predicate type
// is refused: a signature is not an attestation.
func PredicateURI(t string) (string, error) {
	if t == "" {
		t = defaultTypeID
	}
	if u, ok := shortTypes[t]; ok {
		return u, nil
	}
	u, err := url.ParseRequestURI(t)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("predicate type %q: want one of %s, or a predicate type URI", t, strings.Join(ShortTypes(), ", "))
	}
	if t == SignatureURI {
		return "", fmt.Errorf("--type %s is the predicate type of image signatures, which `sign` makes and `verify` checks; an attestation needs another type", t)
	}
	return t, nil
}
