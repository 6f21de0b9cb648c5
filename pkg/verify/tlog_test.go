package verify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/proto"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/internal/hallmarktest/logtest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/sign"
	"hallmark.dev/hallmark/pkg/tlog"
	"hallmark.dev/hallmark/pkg/trust"
	"hallmark.dev/hallmark/pkg/verify"
)

type logFixture struct {
	log      *logtest.Log
	key      *ecdsa.PrivateKey
	verifier *verify.Verifier
	waived   *verify.Verifier // the same, with --insecure-ignore-tlog
	bundle   *cosign.Bundle   // a logged image signature
	other    *cosign.Bundle   // another logged image signature, same key
	image    name.Digest
	legacy   verify.LegacySignature
}

func newLogFixture(t *testing.T) *logFixture {
	t.Helper()
	l := logtest.StartLog(t)
	reg := hallmarktest.EmbeddedRegistry(t, "")
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rc, err := rekor.NewClient(l.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.New(k, sign.WithLog(sign.RekorV1(rc)))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := oci.New()
	ctx := context.Background()
	f := &logFixture{log: l, key: k}
	f.verifier, err = verify.NewKeyVerifier(k.Public(), verify.WithTrust(l.Trust))
	if err != nil {
		t.Fatal(err)
	}
	f.waived, _ = verify.NewKeyVerifier(k.Public(), verify.WithTrust(l.Trust), verify.WithoutTlogUnsafe())
	var bundles []*cosign.Bundle
	for _, n := range []string{"a", "b"} {
		d := hallmarktest.PushImage(t, reg.Host, n+":v1", n)
		_, desc, err := c.Resolve(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SignImage(ctx, c, d, desc, verify.FormatBundle, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SignImage(ctx, c, d, desc, verify.FormatLegacy, nil); err != nil {
			t.Fatal(err)
		}
		stored, err := c.Bundles(ctx, d)
		if err != nil || len(stored) != 1 {
			t.Fatalf("%v %d", err, len(stored))
		}
		b, err := cosign.ParseBundle(stored[0].Bytes)
		if err != nil {
			t.Fatal(err)
		}
		bundles = append(bundles, b)
		if n == "a" {
			f.image = d
			ls, err := c.LegacySignatures(ctx, d)
			if err != nil || len(ls) != 1 {
				t.Fatalf("%v %d", err, len(ls))
			}
			f.legacy = verify.LegacySignature{Payload: ls[0].Payload, Signature: ls[0].Annotations[cosign.SignatureAnnotation], RekorBundle: ls[0].Annotations[cosign.LegacyBundleAnnotation]}
		}
	}
	f.bundle, f.other = bundles[0], bundles[1]
	return f
}

func (f *logFixture) policy() verify.Policy { return verify.Policy{Digest: f.image.DigestStr()} }

// tampered returns a copy of the fixture's bundle with its log entry changed.
func (f *logFixture) tampered(change func(tle *protorekor.TransparencyLogEntry)) *cosign.Bundle {
	b := proto.Clone(f.bundle).(*cosign.Bundle)
	change(b.GetVerificationMaterial().GetTlogEntries()[0])
	return b
}

func flip(b []byte) []byte { c := append([]byte{}, b...); c[len(c)/2] ^= 1; return c }

func TestLoggedSignatureEvidence(t *testing.T) {
	f := newLogFixture(t)
	r, err := f.verifier.VerifyImageBundle(f.bundle, f.policy())
	if err != nil || !r.TlogVerified {
		t.Fatalf("logged bundle: %v (tlog verified %v)", err, r != nil && r.TlogVerified)
	}
	if r, err := f.verifier.VerifyLegacy(f.legacy, f.policy()); err != nil || !r.TlogVerified {
		t.Fatalf("logged legacy signature: %v", err)
	}
	otherLogKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	resignedCheckpoint := func(tle *protorekor.TransparencyLogEntry) {
		// A checkpoint for the same tree, signed by a key that is not the log's.
		p := tle.GetInclusionProof()
		env := p.GetCheckpoint().GetEnvelope()
		text := env[:bytes.LastIndex([]byte(env), []byte("\n\n"))+1]
		ns, _ := tlog.NewNoteSigner("hallmark.local/log", otherLogKey)
		sig, _ := ns.Sign([]byte(text))
		hint := []byte{byte(ns.KeyHash() >> 24), byte(ns.KeyHash() >> 16), byte(ns.KeyHash() >> 8), byte(ns.KeyHash())}
		p.Checkpoint.Envelope = text + "\n\u2014 hallmark.local/log " + base64.StdEncoding.EncodeToString(append(hint, sig...)) + "\n"
	}
	cases := map[string]*cosign.Bundle{
		"entry swapped for another signature's": f.tampered(func(tle *protorekor.TransparencyLogEntry) {
			proto.Reset(tle)
			proto.Merge(tle, f.other.GetVerificationMaterial().GetTlogEntries()[0])
		}),
		"body swapped, evidence kept": f.tampered(func(tle *protorekor.TransparencyLogEntry) {
			tle.CanonicalizedBody = f.other.GetVerificationMaterial().GetTlogEntries()[0].GetCanonicalizedBody()
		}),
		"proof hash corrupted": f.tampered(func(tle *protorekor.TransparencyLogEntry) {
			if len(tle.InclusionProof.Hashes) == 0 {
				tle.InclusionProof.Hashes = [][]byte{make([]byte, 32)}
				return
			}
			tle.InclusionProof.Hashes[0] = flip(tle.InclusionProof.Hashes[0])
		}),
		"proof root corrupted": f.tampered(func(tle *protorekor.TransparencyLogEntry) {
			tle.InclusionProof.RootHash = flip(tle.InclusionProof.RootHash)
		}),
		"checkpoint signature corrupted": f.tampered(func(tle *protorekor.TransparencyLogEntry) {
			env := []byte(tle.InclusionProof.Checkpoint.Envelope)
			i := bytes.LastIndexByte(env[:len(env)-1], ' ')
			sig, _ := base64.StdEncoding.DecodeString(string(env[i+1 : len(env)-1]))
			tle.InclusionProof.Checkpoint.Envelope = string(env[:i+1]) + base64.StdEncoding.EncodeToString(flip(sig)) + "\n"
		}),
		"checkpoint signed by another key": f.tampered(resignedCheckpoint),
		"SET corrupted": f.tampered(func(tle *protorekor.TransparencyLogEntry) {
			tle.InclusionPromise.SignedEntryTimestamp = flip(tle.InclusionPromise.SignedEntryTimestamp)
		}),
		"integrated time moved": f.tampered(func(tle *protorekor.TransparencyLogEntry) { tle.IntegratedTime += 60 }),
		"log index moved":       f.tampered(func(tle *protorekor.TransparencyLogEntry) { tle.LogIndex++ }),
		"no evidence":           f.tampered(func(tle *protorekor.TransparencyLogEntry) { tle.InclusionPromise, tle.InclusionProof = nil, nil }),
		"unknown log":           f.tampered(func(tle *protorekor.TransparencyLogEntry) { tle.LogId.KeyId = make([]byte, 32) }),
		"no entry": func() *cosign.Bundle {
			b := proto.Clone(f.bundle).(*cosign.Bundle)
			b.VerificationMaterial.TlogEntries = nil
			return b
		}(),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.verifier.VerifyImageBundle(b, f.policy())
			if !errors.Is(err, verify.ErrTlog) {
				t.Fatalf("got %v, want a transparency log failure", err)
			}
			// The waiver is the only way around it.
			if _, err := f.waived.VerifyImageBundle(b, f.policy()); err != nil {
				t.Fatalf("with --insecure-ignore-tlog: %v", err)
			}
		})
	}
	// Either kind of evidence alone suffices.
	proofOnly := f.tampered(func(tle *protorekor.TransparencyLogEntry) { tle.InclusionPromise = nil })
	setOnly := f.tampered(func(tle *protorekor.TransparencyLogEntry) { tle.InclusionProof = nil })
	for name, b := range map[string]*cosign.Bundle{"proof only": proofOnly, "SET only": setOnly} {
		if _, err := f.verifier.VerifyImageBundle(b, f.policy()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A verifier trusting another log, or a log key not yet valid, refuses.
	logID := f.log.Trust.Logs[0].ID
	otherLogs := &trust.Material{Logs: []trust.Log{{BaseURL: f.log.URL, ID: logID, Key: otherLogKey.Public(), Window: trust.Window{Start: time.Unix(0, 0)}}}}
	v2, _ := verify.NewKeyVerifier(f.key.Public(), verify.WithTrust(otherLogs))
	if _, err := v2.VerifyImageBundle(f.bundle, f.policy()); !errors.Is(err, verify.ErrTlog) {
		t.Errorf("log key mismatch: %v", err)
	}
	future := &trust.Material{Logs: []trust.Log{{BaseURL: f.log.URL, ID: logID, Key: f.log.Key.Public(), Window: trust.Window{Start: time.Now().Add(time.Hour)}}}}
	v3, _ := verify.NewKeyVerifier(f.key.Public(), verify.WithTrust(future))
	if _, err := v3.VerifyImageBundle(f.bundle, f.policy()); !errors.Is(err, verify.ErrTlog) {
		t.Errorf("log key not valid at integration time: %v", err)
	}
	// Legacy: a SET for another signature's entry is refused.
	otherLegacy := f.legacy
	rb, _, _ := cosign.ParseRekorBundle(f.legacy.RekorBundle)
	rb.SignedEntryTimestamp = flip(rb.SignedEntryTimestamp)
	otherLegacy.RekorBundle, _ = cosign.MarshalRekorBundle(rb)
	if _, err := f.verifier.VerifyLegacy(otherLegacy, f.policy()); !errors.Is(err, verify.ErrTlog) {
		t.Errorf("legacy with corrupted SET: %v", err)
	}
}

// A log that signs an entry recording something else than the signature
// being verified (a malicious or broken log) must not vouch for it: the
// entry has to name this artifact, this signature and this key.
func TestLogSignedEntryMustRecordThisSignature(t *testing.T) {
	f := newLogFixture(t)
	rb, body, err := cosign.ParseRekorBundle(f.legacy.RekorBundle)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rekor.ParseBody(body)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherPEM, _ := keys.MarshalPublicKey(otherKey.Public())
	otherDigest := sha256.Sum256([]byte("another artifact"))
	otherSig, _ := keys.Sign(otherKey, []byte("x"))
	forge := func(digest, sig, pubPEM []byte) verify.LegacySignature {
		body, err := rekor.NewHashedRekord(digest, sig, pubPEM)
		if err != nil {
			t.Fatal(err)
		}
		set, err := tlog.SignSET(f.log.Key, body, rb.Payload.IntegratedTime, rb.Payload.LogIndex, rb.Payload.LogID)
		if err != nil {
			t.Fatal(err)
		}
		ann, _ := cosign.MarshalRekorBundle(&cosign.RekorBundle{SignedEntryTimestamp: set, Payload: cosign.RekorBundlePayload{
			Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: rb.Payload.IntegratedTime,
			LogIndex: rb.Payload.LogIndex, LogID: rb.Payload.LogID,
		}})
		s := f.legacy
		s.RekorBundle = ann
		return s
	}
	myPEM, _ := keys.MarshalPublicKey(f.key.Public())
	// The control: the same forgery recording exactly this signature passes,
	// so each case below fails for the one field it changes.
	if _, err := f.verifier.VerifyLegacy(forge(got.Digest, got.Signature, myPEM), f.policy()); err != nil {
		t.Fatalf("control forgery recording this signature: %v", err)
	}
	cases := map[string]verify.LegacySignature{
		"another key":       forge(got.Digest, got.Signature, otherPEM),
		"another signature": forge(got.Digest, otherSig, myPEM),
		"another artifact":  forge(otherDigest[:], got.Signature, myPEM),
	}
	for name, s := range cases {
		if _, err := f.verifier.VerifyLegacy(s, f.policy()); !errors.Is(err, verify.ErrTlog) || !errors.Is(err, tlog.ErrEntry) {
			t.Errorf("log entry recording %s: got %v, want a log entry mismatch", name, err)
		}
	}
}
