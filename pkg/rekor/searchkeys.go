package rekor

import (
	"encoding/hex"
)

// SearchKeys derives an entry's search keys from its canonical body, for
// rebuilding the index from the log.
func SearchKeys(body []byte) []string {
	b, err := ParseBody(body)
	if err != nil {
		return nil
	}
	var out []string
	switch b.Kind {
	case "hashedrekord":
		out = append(out, b.DigestAlgorithm+":"+hex.EncodeToString(b.Digest))
		if _, k, err := parseVerifier(b.PublicKeyPEM); err == nil {
			out = append(out, k...)
		}
	case "dsse", "intoto":
		out = append(out, "sha256:"+hex.EncodeToString(b.PayloadSHA256))
		for _, v := range b.VerifiersPEM {
			if _, k, err := parseVerifier(v); err == nil {
				out = append(out, k...)
			}
		}
	}
	return out
}
