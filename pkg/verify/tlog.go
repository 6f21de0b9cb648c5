package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/tlog"
)

// Option configures a Verifier.
type Option func(*Verifier) error

// WithTrustedLogs trusts these transparency logs' keys (from a trusted root).
func WithTrustedLogs(logs []cosign.TrustedLog) Option {
	return func(v *Verifier) error { v.logs = append(v.logs, logs...); return nil }
}

// entryMatcher checks that a log entry's body records the signature being
// verified (same artifact, same signature, same key).
type entryMatcher func(b *rekor.Body) error

// checkTlog enforces the transparency-log requirement: unless waived, at
// least one entry must come from a trusted log, carry valid evidence (SET,
// or inclusion proof under a signed checkpoint) and record this signature.
func (v *Verifier) checkTlog(p Policy, tles []*protorekor.TransparencyLogEntry, match entryMatcher) (bool, error) {
	if p.IgnoreTlogUnsafe {
		return false, nil
	}
	if len(tles) == 0 {
		return false, stepErr(ErrTlog, "signature has no transparency log entry; pass --insecure-ignore-tlog to accept signatures made without a log", nil)
	}
	if len(v.logs) == 0 {
		return false, stepErr(ErrTlog, "signature has a transparency log entry, but no log is trusted: pass --trusted-root naming the log's key (or --insecure-ignore-tlog to skip the log check)", nil)
	}
	var errs []error
	for i, tle := range tles {
		err := v.verifyEntry(tle, match)
		if err == nil {
			return true, nil
		}
		errs = append(errs, fmt.Errorf("entry %d (log index %d): %w", i, tle.GetLogIndex(), err))
	}
	return false, stepErr(ErrTlog, "no log entry verified", errors.Join(errs...))
}

func (v *Verifier) trustedLog(id []byte) (*cosign.TrustedLog, error) {
	for i := range v.logs {
		if bytes.Equal(v.logs[i].ID, id) {
			return &v.logs[i], nil
		}
	}
	return nil, fmt.Errorf("log %s is not in the trusted root", hex.EncodeToString(id))
}

func (v *Verifier) verifyEntry(tle *protorekor.TransparencyLogEntry, match entryMatcher) error {
	lg, err := v.trustedLog(tle.GetLogId().GetKeyId())
	if err != nil {
		return err
	}
	// Rekor v2 entries carry no integrated time (and no SET): their time
	// comes from a timestamp authority, so there is no window to check here.
	t := time.Unix(tle.GetIntegratedTime(), 0)
	v2 := tle.GetIntegratedTime() == 0 && tle.GetInclusionPromise() == nil
	if !v2 && ((!lg.Start.IsZero() && t.Before(lg.Start)) || (!lg.End.IsZero() && t.After(lg.End))) {
		return fmt.Errorf("integrated at %s, outside the log key's validity (%s to %s)", t.UTC().Format(time.RFC3339), lg.Start.Format(time.RFC3339), fmtEnd(lg.End))
	}
	body := tle.GetCanonicalizedBody()
	if len(body) == 0 {
		return errors.New("entry has no canonicalized body")
	}
	logIDHex := hex.EncodeToString(lg.ID)
	promise, proof := tle.GetInclusionPromise(), tle.GetInclusionProof()
	if promise == nil && proof == nil {
		return errors.New("entry has neither an inclusion promise (SET) nor an inclusion proof")
	}
	if promise != nil {
		if err := tlog.VerifySET(lg.Key, promise.GetSignedEntryTimestamp(), body, tle.GetIntegratedTime(), tle.GetLogIndex(), logIDHex); err != nil {
			return err
		}
	}
	if proof != nil {
		cp, err := tlog.VerifyCheckpoint([]byte(proof.GetCheckpoint().GetEnvelope()), lg.Key)
		if err != nil {
			return err
		}
		if cp.Size != uint64(proof.GetTreeSize()) || !bytes.Equal(cp.Hash, proof.GetRootHash()) {
			return fmt.Errorf("%w: checkpoint (size %d, root %x) is not the proof's tree (size %d, root %x)",
				tlog.ErrInclusion, cp.Size, cp.Hash, proof.GetTreeSize(), proof.GetRootHash())
		}
		if proof.GetLogIndex() < 0 || proof.GetTreeSize() < 0 {
			return fmt.Errorf("%w: negative index or size", tlog.ErrInclusion)
		}
		if err := tlog.VerifyInclusion(body, uint64(proof.GetLogIndex()), uint64(proof.GetTreeSize()), proof.GetHashes(), proof.GetRootHash()); err != nil {
			return err
		}
	}
	b, err := rekor.ParseBody(body)
	if err != nil {
		return fmt.Errorf("%w: %v", tlog.ErrEntry, err)
	}
	if kv := tle.GetKindVersion(); kv != nil && kv.GetKind() != b.Kind {
		return fmt.Errorf("%w: entry says kind %q, body is %q", tlog.ErrEntry, kv.GetKind(), b.Kind)
	}
	if err := match(b); err != nil {
		return fmt.Errorf("%w: %v", tlog.ErrEntry, err)
	}
	return nil
}

func fmtEnd(t time.Time) string {
	if t.IsZero() {
		return "now"
	}
	return t.Format(time.RFC3339)
}

// sameKey reports whether a PEM key or certificate holds v's key.
func (v *Verifier) sameKey(pemBytes []byte) bool {
	k, err := keys.ParsePublicKey(pemBytes)
	if err != nil {
		return false
	}
	a, err1 := x509.MarshalPKIXPublicKey(k)
	b, err2 := x509.MarshalPKIXPublicKey(v.key)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

// matchHashedRekord: the entry records sig over the SHA-256 digest by v's key.
func (v *Verifier) matchHashedRekord(digest, sig []byte) entryMatcher {
	return func(b *rekor.Body) error {
		if b.Kind != "hashedrekord" {
			return fmt.Errorf("entry kind %q, want hashedrekord", b.Kind)
		}
		if b.DigestAlgorithm != "sha256" || !bytes.Equal(b.Digest, digest) {
			return fmt.Errorf("entry records artifact %s:%x, not sha256:%x", b.DigestAlgorithm, b.Digest, digest)
		}
		if !bytes.Equal(b.Signature, sig) {
			return errors.New("entry records another signature")
		}
		if !v.sameKey(b.PublicKeyPEM) {
			return errors.New("entry records another public key")
		}
		return nil
	}
}

// matchDSSE: the entry records one of the envelope's signatures, by v's
// key, over this payload (dsse kind), or the envelope's PAE (hashedrekord,
// as Rekor v2 logs envelopes).
func (v *Verifier) matchDSSE(payloadType string, payload []byte, sigs [][]byte) entryMatcher {
	return func(b *rekor.Body) error {
		switch b.Kind {
		case "dsse", "intoto":
			ph := sha256.Sum256(payload)
			if !bytes.Equal(b.PayloadSHA256, ph[:]) {
				return errors.New("entry records another DSSE payload")
			}
			for i, s := range b.Signatures {
				for _, want := range sigs {
					if bytes.Equal(s, want) && v.sameKey(b.VerifiersPEM[i]) {
						return nil
					}
				}
			}
			return errors.New("entry records none of the envelope's signatures under this key")
		case "hashedrekord":
			pae := sha256.Sum256(cosign.PAE(payloadType, payload))
			var last error
			for _, s := range sigs {
				if last = v.matchHashedRekord(pae[:], s)(b); last == nil {
					return nil
				}
			}
			return last
		}
		return fmt.Errorf("entry kind %q cannot record a DSSE envelope", b.Kind)
	}
}
