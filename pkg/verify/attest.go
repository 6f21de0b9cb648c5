package verify

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/rekor"
)

// AttestationPolicy says which attestations of an artifact count.
type AttestationPolicy struct {
	// Digest is the artifact's digest, "algorithm:hex": a statement subject
	// must name it.
	Digest string
	// PredicateType is the predicate type asked for; "" takes any.
	PredicateType string
	// IgnoreClaimsUnsafe skips the subject check (cosign's --check-claims=false).
	IgnoreClaimsUnsafe bool
}

// Attestation is a verified attestation.
type Attestation struct {
	*Result
	// Statement is the in-toto statement as signed.
	Statement     []byte
	PredicateType string
	// envelope is the DSSE envelope as stored (legacy) or rebuilt from the
	// bundle, for WriteEnvelope.
	envelope   []byte
	envelopeOf *cosign.Envelope
}

// WriteEnvelope writes the attestation's DSSE envelope as cosign prints it.
func (a *Attestation) WriteEnvelope(w io.Writer) error {
	if a.envelopeOf != nil {
		return cosign.WriteEnvelope(w, a.envelopeOf)
	}
	_, err := w.Write(a.envelope)
	return err
}

// VerifyAttestationBundle checks a bundle-format attestation: a DSSE
// envelope over an in-toto statement whose subject is p.Digest, signed as
// the verifier requires.
func (v *Verifier) VerifyAttestationBundle(b *cosign.Bundle, p AttestationPolicy) (*Attestation, error) {
	env := b.GetDsseEnvelope()
	if env == nil {
		return nil, stepErr(ErrFormat, "attestation bundle has no DSSE envelope (a message signature is not an attestation)", nil)
	}
	cand, err := v.envelopeSignature(b)
	if err != nil {
		return nil, err
	}
	pr, err := v.judge(cand)
	if err != nil {
		return nil, err
	}
	a, err := v.attestationClaims(pr, FormatBundle, env.GetPayload(), nil, p)
	if err != nil {
		return nil, err
	}
	a.envelopeOf = &cosign.Envelope{Payload: env.GetPayload(), PayloadType: env.GetPayloadType(),
		Signatures: []cosign.EnvelopeSignature{{KeyID: env.GetSignatures()[0].GetKeyid(), Sig: env.GetSignatures()[0].GetSig()}}}
	return a, nil
}

// VerifyLegacyAttestation checks one layer of a sha256-<hex>.att image: a
// DSSE envelope, with the layer's certificate, log bundle and timestamp
// annotations.
func (v *Verifier) VerifyLegacyAttestation(envelope []byte, ann map[string]string, p AttestationPolicy) (*Attestation, error) {
	env, err := cosign.ParseEnvelope(envelope)
	if err != nil {
		return nil, stepErr(ErrFormat, "attestation layer", err)
	}
	if env.PayloadType != cosign.InTotoPayloadType {
		return nil, mismatch(ErrFormat, "DSSE payloadType", cosign.InTotoPayloadType, env.PayloadType)
	}
	if n := len(env.Signatures); n != 1 {
		return nil, stepErr(ErrFormat, fmt.Sprintf("DSSE envelope has %d signatures; cosign attestations carry exactly one", n), nil)
	}
	sig := env.Signatures[0].Sig
	pae := cosign.PAE(env.PayloadType, env.Payload)
	cand := signature{
		what:   "DSSE envelope",
		sig:    sig,
		verify: func(pub crypto.PublicKey) error { return keys.Verify(pub, pae, sig) },
		match: func(signer signerMatch) entryMatcher {
			m := matchDSSE(env.PayloadType, env.Payload, sig, signer)
			layer := sha256.Sum256(envelope)
			return func(b *rekor.Body) error {
				// As cosign: a dsse entry records the envelope's hash, and
				// the layer must hold that very envelope.
				if b.EnvelopeSHA256 != nil && !bytes.Equal(b.EnvelopeSHA256, layer[:]) {
					return errors.New("entry records another envelope than the layer holds")
				}
				return m(b)
			}
		},
	}
	if err := v.layerEvidence(&cand, LegacyFromAnnotations(nil, ann)); err != nil {
		return nil, err
	}
	pr, err := v.judge(cand)
	if err != nil {
		return nil, err
	}
	return v.attestationClaims(pr, FormatLegacy, env.Payload, envelope, p)
}

// attestationClaims reads a statement whose signature verified and checks
// it is an attestation of the asked type about p.Digest.
func (v *Verifier) attestationClaims(pr *proof, format Format, payload, envelope []byte, p AttestationPolicy) (*Attestation, error) {
	st, err := cosign.ParseAttestationStatement(payload)
	if err != nil {
		return nil, stepErr(ErrClaims, "statement", err)
	}
	if st.PredicateType == cosign.SignPredicateType {
		return nil, stepErr(ErrNotAttestation, "this is an image signature (predicate type "+cosign.SignPredicateType+"), not an attestation", nil)
	}
	if p.PredicateType != "" && st.PredicateType != p.PredicateType {
		return nil, mismatch(ErrPredicateType, "attestation of another type", p.PredicateType, st.PredicateType)
	}
	algo, hex, _ := strings.Cut(p.Digest, ":")
	if !p.IgnoreClaimsUnsafe && (algo == "" || hex == "") {
		return nil, stepErr(ErrClaims, fmt.Sprintf("the artifact's digest %q is not algorithm:hex", p.Digest), nil)
	}
	var got []string
	matched := p.IgnoreClaimsUnsafe
	for _, subj := range st.Subject {
		d, ok := subj.Digest[algo]
		if !ok {
			continue
		}
		if d == hex {
			matched = true
			break
		}
		got = append(got, algo+":"+d)
	}
	if !matched {
		return nil, mismatch(ErrClaims, "no statement subject is the artifact's digest", p.Digest, strings.Join(got, ","))
	}
	return &Attestation{
		Result:        pr.fill(&Result{Format: format, Digest: p.Digest, Type: st.PredicateType}),
		Statement:     payload,
		envelope:      envelope,
		PredicateType: st.PredicateType,
	}, nil
}
