package verify

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	_ "crypto/sha512" // crypto.SHA384 and SHA512 (hashNames)
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
)

// Blob is the artifact a blob signature must cover: the whole blob when the
// caller has it, otherwise its digest (a "sha256:<hex>" input).
type Blob struct {
	Data    []byte            // the whole blob, when known
	Digests map[string][]byte // by algorithm: "sha256", "sha384", "sha512"
}

// BlobData is a blob whose bytes the caller has (nil is the empty blob).
func BlobData(data []byte) Blob {
	if data == nil {
		data = []byte{}
	}
	sum := sha256.Sum256(data)
	return Blob{Data: data, Digests: map[string][]byte{"sha256": sum[:]}}
}

// BlobDigest is a blob known only by its digest.
func BlobDigest(algorithm string, digest []byte) Blob {
	return Blob{Digests: map[string][]byte{algorithm: digest}}
}

// HashBlob reads r to its end once, in pieces, through SHA-256 and the
// other algorithms named ("sha384", "sha512"), and returns the blob known by
// those digests: a blob of any size, held in memory by none of its bytes.
func HashBlob(r io.Reader, algs ...string) (Blob, error) {
	hs := map[string]hash.Hash{"sha256": sha256.New()}
	for _, alg := range algs {
		if _, ok := hs[alg]; ok {
			continue
		}
		h := newHash(alg)
		if h == nil {
			return Blob{}, fmt.Errorf("unknown digest algorithm %q", alg)
		}
		hs[alg] = h
	}
	ws := make([]io.Writer, 0, len(hs))
	for _, h := range hs {
		ws = append(ws, h)
	}
	if _, err := io.CopyBuffer(io.MultiWriter(ws...), r, make([]byte, 64<<10)); err != nil {
		return Blob{}, err
	}
	b := Blob{Digests: make(map[string][]byte, len(hs))}
	for alg, h := range hs {
		b.Digests[alg] = h.Sum(nil)
	}
	return b, nil
}

func newHash(alg string) hash.Hash {
	if h, ok := hashNames[alg]; ok {
		return h.New()
	}
	return nil
}

// Digest returns the blob's digest under alg ("sha256", "sha384",
// "sha512"), computing it from the data when the caller gave the data; nil
// when it cannot be known.
func (b Blob) Digest(alg string) []byte {
	if d, ok := b.Digests[alg]; ok {
		return d
	}
	if b.Data == nil {
		return nil
	}
	h := newHash(alg)
	if h == nil {
		return nil
	}
	h.Write(b.Data)
	return h.Sum(nil)
}

// messageDigestAlgs are the message digests a blob bundle may name: SHA-256,
// or the key's hash (cosign names SHA2_384 for P-384 keys, SHA2_512 for
// P-521 and Ed25519).
var messageDigestAlgs = map[protocommon.HashAlgorithm]string{
	protocommon.HashAlgorithm_SHA2_256: "sha256",
	protocommon.HashAlgorithm_SHA2_384: "sha384",
	protocommon.HashAlgorithm_SHA2_512: "sha512",
}

// hashNames are the hashes Blob's digest names stand for.
var hashNames = map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}

// HashName is the name Blob's digests go by for h: "sha256", "sha384",
// "sha512"; "" for any other hash.
func HashName(h crypto.Hash) string {
	for name, x := range hashNames {
		if x == h {
			return name
		}
	}
	return ""
}

// SHA256 is the blob's SHA-256 digest, or nil when only another digest is known.
func (b Blob) SHA256() []byte { return b.Digest("sha256") }

// VerifyBlobBundle checks a bundle over blob: a message signature over the
// blob, or a DSSE envelope over an in-toto statement one of whose subjects
// is the blob (as cosign verify-blob and the conformance suite read it).
func (v *Verifier) VerifyBlobBundle(b *cosign.Bundle, blob Blob) (*Result, error) {
	if b.GetDsseEnvelope() != nil {
		return v.verifyBlobEnvelope(b, blob)
	}
	ms := b.GetMessageSignature()
	if ms == nil {
		return nil, stepErr(ErrFormat, "bundle has neither a messageSignature nor a dsseEnvelope", nil)
	}
	md := ms.GetMessageDigest()
	if md == nil {
		return nil, stepErr(ErrFormat, "bundle messageSignature has no messageDigest", nil)
	}
	alg, ok := messageDigestAlgs[md.GetAlgorithm()]
	if !ok {
		return nil, mismatch(ErrFormat, "bundle messageDigest algorithm", "SHA2_256, SHA2_384 or SHA2_512", md.GetAlgorithm().String())
	}
	sum := blob.Digest(alg)
	if sum == nil {
		return nil, stepErr(ErrFormat, fmt.Sprintf("the bundle names the artifact's %s digest: give the file or %s:<hex>", alg, alg), nil)
	}
	if !bytes.Equal(md.GetDigest(), sum) {
		return nil, mismatch(ErrClaims, "bundle messageDigest is not the artifact's "+hashNames[alg].String(),
			hex.EncodeToString(sum), hex.EncodeToString(md.GetDigest()))
	}
	s, err := v.bundleMaterial(b)
	if err != nil {
		return nil, err
	}
	sig := ms.GetSignature()
	s.what, s.sig = "blob signature", sig
	s.verify = blobVerifier(blob, sig)
	s.match = func(signer signerMatch) entryMatcher { return matchHashedRekord(blob.Digest, sig, signer) }
	pr, err := v.judge(s)
	if err != nil {
		return nil, err
	}
	return pr.fill(&Result{Format: FormatBundle, Digest: alg + ":" + hex.EncodeToString(sum)}), nil
}

// blobVerifier checks sig over the blob, or over its digest under the key's
// hash when only digests are known (a sha256:<hex> input, or a blob hashed
// as it was read).
func blobVerifier(blob Blob, sig []byte) func(crypto.PublicKey) error {
	return func(pub crypto.PublicKey) error {
		if blob.Data != nil {
			return keys.Verify(pub, blob.Data, sig)
		}
		scheme, err := keys.SchemeFor(pub)
		if err != nil {
			return err
		}
		d := blob.Digest(HashName(scheme.Hash))
		if len(d) != scheme.Hash.Size() {
			return fmt.Errorf("a %s key signs the blob's %s digest, not known here: give the file, not sha256:<hex>", scheme.Name, scheme.Hash)
		}
		return keys.VerifyDigest(pub, scheme, d, sig)
	}
}

// verifyBlobEnvelope: the envelope's statement must name the blob as one of
// its subjects, by any digest of the blob that is known or can be computed.
func (v *Verifier) verifyBlobEnvelope(b *cosign.Bundle, blob Blob) (*Result, error) {
	s, err := v.envelopeSignature(b)
	if err != nil {
		return nil, err
	}
	pr, err := v.judge(s)
	if err != nil {
		return nil, err
	}
	st, err := cosign.ParseStatement(b.GetDsseEnvelope().GetPayload())
	if err != nil {
		return nil, stepErr(ErrClaims, "statement", err)
	}
	var got []string
	for _, subj := range st.GetSubject() {
		for _, alg := range []string{"sha512", "sha384", "sha256"} {
			d, ok := subj.GetDigest()[alg]
			if !ok {
				continue
			}
			if want := blob.Digest(alg); want != nil && strings.EqualFold(d, hex.EncodeToString(want)) {
				return pr.fill(&Result{Format: FormatBundle, Digest: alg + ":" + strings.ToLower(d), Type: st.GetPredicateType()}), nil
			}
		}
		for alg, d := range subj.GetDigest() {
			got = append(got, alg+":"+d)
		}
	}
	var want []string
	for alg, d := range blob.Digests {
		want = append(want, alg+":"+hex.EncodeToString(d))
	}
	return nil, mismatch(ErrClaims, "no statement subject is the artifact", strings.Join(want, ","), strings.Join(got, ","))
}

// DetachedSignature is a blob signature outside a Sigstore bundle: cosign's
// --signature (with --certificate for keyless), or its legacy bundle JSON.
type DetachedSignature struct {
	Signature []byte
	// Certificate is the signing certificate (leaf first); none when
	// key-signed.
	Certificate []*x509.Certificate
	// RekorBundle is the log entry's SET and payload, as cosign's legacy
	// formats carry it (JSON); empty when there is none.
	RekorBundle string
	// RFC3161Timestamp is a DER timestamp response over the signature.
	RFC3161Timestamp []byte
}

// VerifyBlobSignature checks a detached signature over blob.
func (v *Verifier) VerifyBlobSignature(d DetachedSignature, blob Blob) (*Result, error) {
	sum := blob.SHA256()
	if sum == nil {
		return nil, stepErr(ErrFormat, "a detached signature is checked against the blob or its sha256: digest", nil)
	}
	if len(d.Signature) == 0 {
		return nil, stepErr(ErrFormat, "the signature is empty", nil)
	}
	s := signature{what: "blob signature", sig: d.Signature, verify: blobVerifier(blob, d.Signature)}
	s.match = func(signer signerMatch) entryMatcher { return matchHashedRekord(blob.Digest, d.Signature, signer) }
	if d.RekorBundle != "" {
		tle, err := legacyTLE(d.RekorBundle)
		if err != nil {
			return nil, stepErr(ErrTlog, "rekor bundle", err)
		}
		s.entries = append(s.entries, tle)
	}
	if len(d.RFC3161Timestamp) > 0 {
		s.timestamps = append(s.timestamps, d.RFC3161Timestamp)
	}
	if v.key == nil && len(d.Certificate) > 0 {
		s.certs = d.Certificate[:1]
	}
	pr, err := v.judge(s)
	if err != nil {
		return nil, err
	}
	return pr.fill(&Result{Format: FormatLegacy, Digest: "sha256:" + hex.EncodeToString(sum)}), nil
}
