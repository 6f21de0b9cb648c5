package rekor

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
)

// MaxEntrySize caps a proposed entry; Rekor's default is 100 KiB... DSSE
// envelopes carrying SBOMs can be larger, so this is the default of the
// service's configurable limit.
const MaxEntrySize = 256 << 10

// ErrInvalidEntry is wrapped by every validation failure (HTTP 400).
var ErrInvalidEntry = errors.New("invalid entry")

// proposed is the envelope every Rekor entry shares.
type proposed struct {
	Kind       string          `json:"kind"`
	APIVersion string          `json:"apiVersion"`
	Spec       json.RawMessage `json:"spec"`
}

// Entry is a validated entry: its canonical body (the log leaf) and the
// search keys it is indexed under.
type Entry struct {
	Kind, APIVersion string
	Body             []byte
	// Keys are search keys: "sha256:<hex>" artifact digests, "pk:<sha256 hex>"
	// public-key fingerprints, "email:<addr>" / "subject:<san>" identities.
	Keys []string
}

// Parse validates a proposed entry and returns its canonical form. Errors
// wrap ErrInvalidEntry and say what is wrong.
func Parse(data []byte) (*Entry, error) {
	if len(data) > MaxEntrySize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d byte limit", ErrInvalidEntry, len(data), MaxEntrySize)
	}
	// Nearly every entry is a hashedrekord 0.0.1: decode it in one pass.
	// Anything else (or a malformed one) takes the general path below.
	var hr struct {
		Kind       string            `json:"kind"`
		APIVersion string            `json:"apiVersion"`
		Spec       *hashedRekordSpec `json:"spec"`
	}
	if json.Unmarshal(data, &hr) == nil && hr.Kind == "hashedrekord" && hr.APIVersion == "0.0.1" && hr.Spec != nil {
		e, err := hashedRekordFrom(hr.Spec)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidEntry, hr.Kind, err)
		}
		return e, nil
	}
	var p proposed
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%w: not a JSON proposed entry: %v", ErrInvalidEntry, err)
	}
	var (
		e   *Entry
		err error
	)
	supported := ((p.Kind == "hashedrekord" || p.Kind == "dsse") && p.APIVersion == "0.0.1") || (p.Kind == "intoto" && p.APIVersion == "0.0.2")
	if supported && len(p.Spec) == 0 {
		return nil, fmt.Errorf("%w: %s has no spec", ErrInvalidEntry, p.Kind)
	}
	switch {
	case p.Kind == "hashedrekord" && p.APIVersion == "0.0.1":
		e, err = parseHashedRekord(p.Spec)
	case p.Kind == "dsse" && p.APIVersion == "0.0.1":
		e, err = parseDSSE(p.Spec)
	case p.Kind == "intoto" && p.APIVersion == "0.0.2":
		e, err = parseIntoto(p.Spec)
	default:
		return nil, fmt.Errorf("%w: unsupported kind %q version %q (supported: hashedrekord 0.0.1, dsse 0.0.1, intoto 0.0.2)", ErrInvalidEntry, p.Kind, p.APIVersion)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidEntry, p.Kind, err)
	}
	return e, nil
}

// entryJSON is the envelope of every entry and body: kind, API version, spec.
type entryJSON struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       any    `json:"spec"`
}

// canonical returns the JCS (RFC 8785) form of v, as Rekor stores bodies.
func canonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsoncanonicalizer.Transform(b)
}

// Kind returns the kind and API version of a stored body.
func Kind(body []byte) (kind, version string, err error) {
	var p proposed
	if err := json.Unmarshal(body, &p); err != nil {
		return "", "", fmt.Errorf("entry body: %w", err)
	}
	return p.Kind, p.APIVersion, nil
}
