package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/tlog"
	"hallmark.dev/hallmark/pkg/trust"
)

// maxTlogEntries caps the log entries read from one signature.
const maxTlogEntries = 32

// loggedEntry is a log entry whose evidence verified and which records the
// signature under judgement.
type loggedEntry struct {
	log *trust.Log
	tle *protorekor.TransparencyLogEntry
	// setTime is the integrated time a verified SET vouches for; zero when
	// the entry has no SET (a proof only, as every Rekor v2 entry).
	setTime time.Time
}

// entryMatcher checks that a log entry's body records the signature being
// verified: the same artifact, the same signature, by the same signer.
type entryMatcher func(b *rekor.Body) error

// verifyEntries checks each entry as sigstore-go does: an entry from a log
// the trust material does not list, or whose SET does not verify inside the
// log's window, is skipped (its reason kept); a malformed entry, a failed
// inclusion proof or an entry recording something else fails the signature.
func (v *Verifier) verifyEntries(tles []*protorekor.TransparencyLogEntry, match entryMatcher) ([]loggedEntry, []string, error) {
	if len(tles) > maxTlogEntries {
		return nil, nil, stepErr(ErrTlog, fmt.Sprintf("%d log entries, more than %d", len(tles), maxTlogEntries), nil)
	}
	type key struct {
		id    string
		index int64
	}
	seen := map[key]bool{}
	var (
		out     []loggedEntry
		skipped []string
	)
	for i, tle := range tles {
		k := key{string(tle.GetLogId().GetKeyId()), tle.GetLogIndex()}
		if seen[k] {
			return nil, nil, stepErr(ErrTlog, fmt.Sprintf("entry %d repeats log %x index %d", i, k.id, k.index), nil)
		}
		seen[k] = true
		e, skip, err := v.verifyEntry(tle, match)
		where := fmt.Sprintf("entry %d (log index %d)", i, tle.GetLogIndex())
		if err != nil {
			return nil, nil, stepErr(ErrTlog, where, err)
		}
		if skip != "" {
			skipped = append(skipped, where+": "+skip)
			continue
		}
		out = append(out, *e)
	}
	return out, skipped, nil
}

// verifyEntry returns the verified entry, or why it is skipped, or an error.
func (v *Verifier) verifyEntry(tle *protorekor.TransparencyLogEntry, match entryMatcher) (*loggedEntry, string, error) {
	lg := v.trust.FindLog(tle.GetLogId().GetKeyId())
	if lg == nil {
		return nil, fmt.Sprintf("log %s is not in the trusted root", hex.EncodeToString(tle.GetLogId().GetKeyId())), nil
	}
	body := tle.GetCanonicalizedBody()
	if len(body) == 0 {
		return nil, "", errors.New("entry has no canonicalized body")
	}
	if tle.GetLogIndex() < 0 {
		return nil, "", fmt.Errorf("%w: negative log index", tlog.ErrEntry)
	}
	b, err := rekor.ParseBody(body)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", tlog.ErrEntry, err)
	}
	if kv := tle.GetKindVersion(); kv != nil && (kv.GetKind() != b.Kind || kv.GetVersion() != b.APIVersion) {
		return nil, "", fmt.Errorf("%w: entry says %s %s, body is %s %s", tlog.ErrEntry, kv.GetKind(), kv.GetVersion(), b.Kind, b.APIVersion)
	}
	// Rekor v2 writes hashedrekord and dsse 0.0.2 (intoto 0.0.2 is a v1 kind).
	v2 := b.APIVersion == "0.0.2" && (b.Kind == "hashedrekord" || b.Kind == "dsse")
	promise, proof := tle.GetInclusionPromise(), tle.GetInclusionProof()
	if promise == nil && proof == nil {
		return nil, "", errors.New("entry has neither an inclusion promise (SET) nor an inclusion proof")
	}
	if v2 && proof == nil {
		return nil, "", errors.New("Rekor v2 entry has no inclusion proof")
	}
	e := &loggedEntry{log: lg, tle: tle}
	if promise != nil {
		if v2 {
			return nil, "a Rekor v2 entry carries no SET; this one does", nil
		}
		it := time.Unix(tle.GetIntegratedTime(), 0)
		if err := tlog.VerifySET(lg.Key, promise.GetSignedEntryTimestamp(), body, tle.GetIntegratedTime(), tle.GetLogIndex(), hex.EncodeToString(lg.ID)); err != nil {
			return nil, err.Error(), nil
		}
		if !lg.Window.Contains(it) {
			return nil, fmt.Sprintf("integrated at %s, outside the log key's validity (%s)", stamp(it), lg.Window), nil
		}
		e.setTime = it
	}
	if proof != nil {
		if err := verifyProof(lg, tle, body); err != nil {
			return nil, "", err
		}
	}
	if err := match(b); err != nil {
		return nil, "", fmt.Errorf("%w: %v", tlog.ErrEntry, err)
	}
	return e, "", nil
}

// verifyProof checks the entry's inclusion proof under its signed
// checkpoint. A Rekor v1 checkpoint ("<origin> - <tree ID>") is signed by the
// log key over the whole note; any other is a C2SP signed note whose origin
// is the log's host name, and its proof is rebuilt from the checkpoint and
// the entry's index, as a Rekor v2 log proves.
func verifyProof(lg *trust.Log, tle *protorekor.TransparencyLogEntry, body []byte) error {
	proof := tle.GetInclusionProof()
	env := []byte(proof.GetCheckpoint().GetEnvelope())
	if len(env) == 0 {
		return fmt.Errorf("%w: inclusion proof has no checkpoint", tlog.ErrInclusion)
	}
	if tlog.IsV1Checkpoint(env) {
		cp, err := tlog.VerifyCheckpoint(env, lg.Key)
		if err != nil {
			return err
		}
		if proof.GetLogIndex() < 0 || proof.GetTreeSize() < 0 {
			return fmt.Errorf("%w: negative index or size", tlog.ErrInclusion)
		}
		// The signed root must be the proof's; the size is the proof's
		// claim (sigstore-go and rekor-cli compare the root alone).
		if !bytes.Equal(cp.Hash, proof.GetRootHash()) {
			return fmt.Errorf("%w: checkpoint root %x is not the proof's root %x", tlog.ErrInclusion, cp.Hash, proof.GetRootHash())
		}
		return tlog.VerifyInclusion(body, uint64(proof.GetLogIndex()), uint64(proof.GetTreeSize()), proof.GetHashes(), proof.GetRootHash())
	}
	u, err := url.Parse(lg.BaseURL)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("%w: log %s has no base URL to name its checkpoints by", tlog.ErrCheckpoint, lg.BaseURL)
	}
	cp, err := tlog.VerifyNoteCheckpoint(env, u.Hostname(), lg.Key)
	if err != nil {
		return err
	}
	return tlog.VerifyInclusion(body, uint64(tle.GetLogIndex()), cp.Size, proof.GetHashes(), cp.Hash)
}

// signerMatch reports whether a PEM key or certificate recorded in a log
// entry is the signer: the very certificate for keyless signatures, the key
// (bare or in a certificate) for keyed ones.
type signerMatch func(pemBytes []byte) bool

func (v *Verifier) signerMatcher(leafDER []byte) signerMatch {
	return func(pemBytes []byte) bool {
		block, _ := pem.Decode(pemBytes)
		if block == nil {
			return false
		}
		if leafDER != nil {
			return block.Type == "CERTIFICATE" && bytes.Equal(block.Bytes, leafDER)
		}
		switch block.Type {
		case "PUBLIC KEY":
			return bytes.Equal(block.Bytes, v.keyDER)
		case "CERTIFICATE":
			return v.sameKey(pemBytes)
		}
		return false
	}
}

// matchHashedRekord: the entry records sig over the artifact's digest (under
// the algorithm the entry names: SHA-256, or the key's SHA-384/512 as
// cosign logs P-384, P-521 and Ed25519 signatures) by the signer. digestFor
// gives the artifact's digest under an algorithm, nil when not known.
func matchHashedRekord(digestFor func(alg string) []byte, sig []byte, signer signerMatch) entryMatcher {
	return func(b *rekor.Body) error {
		if b.Kind != "hashedrekord" {
			return fmt.Errorf("entry kind %q, want hashedrekord", b.Kind)
		}
		want := digestFor(b.DigestAlgorithm)
		if want == nil {
			return fmt.Errorf("entry records artifact %s:%x, and the artifact's %s digest is not known here (give the file)", b.DigestAlgorithm, b.Digest, b.DigestAlgorithm)
		}
		if !bytes.Equal(b.Digest, want) {
			return fmt.Errorf("entry records artifact %s:%x, not %s:%x", b.DigestAlgorithm, b.Digest, b.DigestAlgorithm, want)
		}
		if !bytes.Equal(b.Signature, sig) {
			return errors.New("entry records another signature")
		}
		if !signer(b.PublicKeyPEM) {
			return errors.New("entry records another public key or certificate")
		}
		return nil
	}
}

// matchDSSE: the entry records the envelope's signature, by the signer,
// over this payload (dsse and intoto kinds), or over the envelope's PAE
// (hashedrekord, as Rekor v2 logs envelopes).
func matchDSSE(payloadType string, payload, sig []byte, signer signerMatch) entryMatcher {
	return func(b *rekor.Body) error {
		switch b.Kind {
		case "dsse", "intoto":
			ph := sha256.Sum256(payload)
			if !bytes.Equal(b.PayloadSHA256, ph[:]) {
				return errors.New("entry records another DSSE payload")
			}
			for i, s := range b.Signatures {
				if bytes.Equal(s, sig) && signer(b.VerifiersPEM[i]) {
					return nil
				}
			}
			return errors.New("entry records none of the envelope's signatures by this signer")
		case "hashedrekord":
			return matchHashedRekord(Blob{Data: cosign.PAE(payloadType, payload)}.Digest, sig, signer)(b)
		}
		return fmt.Errorf("entry kind %q cannot record a DSSE envelope", b.Kind)
	}
}
