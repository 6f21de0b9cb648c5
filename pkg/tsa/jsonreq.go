package tsa

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
)

// jsonRequest is the JSON body sigstore's timestamp-authority accepts beside
// DER (Content-Type application/json).
type jsonRequest struct {
	ArtifactHash  string          `json:"artifactHash"`
	HashAlgorithm string          `json:"hashAlgorithm"`
	Nonce         json.RawMessage `json:"nonce,omitempty"`
	Certificates  bool            `json:"certificates,omitempty"`
	TSAPolicyOID  string          `json:"tsaPolicyOID,omitempty"`
}

var hashNames = map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}

// ParseJSON reads the JSON form of a time-stamp request.
func ParseJSON(body []byte) (*Request, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var j jsonRequest
	if err := dec.Decode(&j); err != nil {
		return nil, refuse("malformed JSON time-stamp request: %v", err)
	}
	if dec.More() {
		return nil, refuse("malformed JSON time-stamp request: data after the object")
	}
	h, ok := hashNames[strings.ToLower(j.HashAlgorithm)]
	if !ok {
		return nil, refuse("hashAlgorithm %q: want sha256, sha384 or sha512", j.HashAlgorithm)
	}
	digest, err := base64.StdEncoding.DecodeString(j.ArtifactHash)
	if err != nil || len(digest) == 0 {
		return nil, refuse("artifactHash must be a base64 digest")
	}
	req := &Request{Hash: h, Digest: digest, Certificates: j.Certificates}
	if len(j.Nonce) > 0 && string(j.Nonce) != "null" {
		n, ok := new(big.Int).SetString(strings.Trim(string(j.Nonce), `"`), 10)
		if !ok {
			return nil, refuse("nonce %s is not an integer", j.Nonce)
		}
		req.Nonce = n
	}
	if j.TSAPolicyOID != "" {
		oid, err := parseOID(j.TSAPolicyOID)
		if err != nil {
			return nil, refuse("tsaPolicyOID %q: %v", j.TSAPolicyOID, err)
		}
		req.Policy = oid
	}
	return req, nil
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, strconv.ErrSyntax
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, strconv.ErrSyntax
		}
		oid[i] = n
	}
	return oid, nil
}
