package verify_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgca "github.com/sigstore/sigstore-go/pkg/testing/ca"
	sgtlog "github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"hallmark.dev/hallmark/internal/hallmarktest/sigstoretest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/trust"
	"hallmark.dev/hallmark/pkg/verify"
)

// The differential tests hold Hallmark's verifier to sigstore-go v1.3.0, an
// independent implementation, on the very same bytes: a bundle and a trusted
// root, verified by both with the same requirements (a log entry, a time of
// signing from a SET or a timestamp: sigstore-go's observer timestamps, an
// SCT where the harness makes them), for many mutations of each. Each case
// also says what the outcome must be, so that the two cannot agree on a
// wrong answer unnoticed.

// oracleOpts are a run's requirements, given to both verifiers alike.
type oracleOpts struct {
	sct, signedTimestamps bool
}

// sigstoreGo verifies with sigstore-go.
func sigstoreGo(bundleJSON, rootJSON []byte, artifact []byte, subject, issuer string, o oracleOpts) error {
	tr, err := root.NewTrustedRootFromJSON(rootJSON)
	if err != nil {
		return err
	}
	opts := []sgverify.VerifierOption{sgverify.WithTransparencyLog(1), sgverify.WithObserverTimestamps(1)}
	if o.sct {
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	if o.signedTimestamps {
		opts = append(opts, sgverify.WithSignedTimestamps(1))
	}
	v, err := sgverify.NewVerifier(tr, opts...)
	if err != nil {
		return err
	}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return err
	}
	id, err := sgverify.NewShortCertificateIdentity(issuer, "", subject, "")
	if err != nil {
		return err
	}
	_, err = v.Verify(&b, sgverify.NewPolicy(sgverify.WithArtifact(bytes.NewReader(artifact)), sgverify.WithCertificateIdentity(id)))
	return err
}

// hallmark verifies with Hallmark.
func hallmark(bundleJSON, rootJSON []byte, artifact []byte, subject, issuer string, o oracleOpts) error {
	tr, err := cosign.ParseTrustedRoot(rootJSON)
	if err != nil {
		return err
	}
	m, err := trust.FromTrustedRoot(tr)
	if err != nil {
		return err
	}
	opts := []verify.Option{verify.WithTrust(m)}
	if !o.sct {
		opts = append(opts, verify.WithoutSCTUnsafe())
	}
	if o.signedTimestamps {
		opts = append(opts, verify.WithSignedTimestamps())
	}
	v, err := verify.NewCertificateVerifier([]verify.Identity{{Subject: subject, Issuer: issuer}}, opts...)
	if err != nil {
		return err
	}
	b, err := cosign.ParseBundle(bundleJSON)
	if err != nil {
		return err
	}
	_, err = v.VerifyBlobBundle(b, verify.BlobData(artifact))
	return err
}

// diffCase is one input to both verifiers and the outcome it must have.
type diffCase struct {
	name            string
	bundle, root    []byte
	artifact        []byte
	subject, issuer string
	opts            oracleOpts
	accept          bool
}

func runDifferential(t *testing.T, cases []diffCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sgErr := sigstoreGo(c.bundle, c.root, c.artifact, c.subject, c.issuer, c.opts)
			hmErr := hallmark(c.bundle, c.root, c.artifact, c.subject, c.issuer, c.opts)
			if (sgErr == nil) != (hmErr == nil) {
				t.Fatalf("verifiers disagree:\n  sigstore-go: %v\n  hallmark:    %v", sgErr, hmErr)
			}
			if (hmErr == nil) != c.accept {
				t.Fatalf("both verifiers %s, want accept=%v:\n  sigstore-go: %v\n  hallmark:    %v", verdict(hmErr), c.accept, sgErr, hmErr)
			}
		})
	}
}

func verdict(err error) string {
	if err == nil {
		return "accepted"
	}
	return "refused"
}

// entityBundle turns a sigstore-go test entity into a protobuf-specs bundle:
// v0.3 with its certificate when its entries carry a proof, else v0.1 with
// the chain (v0.1 bundles need only a SET).
func entityBundle(t testing.TB, vs *sgca.VirtualSigstore, e *sgca.TestEntity) *cosign.Bundle {
	t.Helper()
	vc, _ := e.VerificationContent()
	leaf := vc.Certificate()
	entries, _ := e.TlogEntries()
	ts, _ := e.Timestamps()
	b := &cosign.Bundle{VerificationMaterial: &protobundle.VerificationMaterial{}}
	proof := false
	for _, en := range entries {
		b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, entityTLE(t, vs, en))
		proof = proof || en.HasInclusionProof()
	}
	if proof {
		b.MediaType = cosign.BundleMediaType
		b.VerificationMaterial.Content = &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: leaf.Raw}}
	} else {
		b.MediaType = "application/vnd.dev.sigstore.bundle+json;version=0.1"
		b.VerificationMaterial.Content = &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{
			Certificates: []*protocommon.X509Certificate{{RawBytes: leaf.Raw}},
		}}
	}
	for _, r := range ts {
		if b.VerificationMaterial.TimestampVerificationData == nil {
			b.VerificationMaterial.TimestampVerificationData = &protobundle.TimestampVerificationData{}
		}
		b.VerificationMaterial.TimestampVerificationData.Rfc3161Timestamps = append(b.VerificationMaterial.TimestampVerificationData.Rfc3161Timestamps,
			&protocommon.RFC3161SignedTimestamp{SignedTimestamp: r})
	}
	sc, _ := e.SignatureContent()
	if env := sc.EnvelopeContent(); env != nil {
		raw := env.RawEnvelope()
		var sigs []*protodsse.Signature
		for _, s := range raw.Signatures {
			sig, _ := b64(s.Sig)
			sigs = append(sigs, &protodsse.Signature{Sig: sig, Keyid: s.KeyID})
		}
		payload, _ := b64(raw.Payload)
		b.Content = &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{Payload: payload, PayloadType: raw.PayloadType, Signatures: sigs}}
		return b
	}
	ms := sc.MessageSignatureContent()
	b.Content = &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
		MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: ms.Digest()},
		Signature:     ms.Signature(),
	}}
	return b
}

// entityTLE is the bundle form of a test entity's log entry. sigstore-go
// keeps a v1 entry's SET and kind beside its TransparencyLogEntry; they are
// put back (the SET signed again by the virtual log: ECDSA SETs differ
// each time they are signed, all verify).
func entityTLE(t testing.TB, vs *sgca.VirtualSigstore, en *sgtlog.Entry) *protorekor.TransparencyLogEntry {
	t.Helper()
	tle := proto.Clone(en.TransparencyLogEntry()).(*protorekor.TransparencyLogEntry)
	if tle.KindVersion == nil {
		kind, version, err := rekor.Kind(tle.CanonicalizedBody)
		if err != nil {
			t.Fatal(err)
		}
		tle.KindVersion = &protorekor.KindVersion{Kind: kind, Version: version}
	}
	if en.HasInclusionPromise() && tle.InclusionPromise == nil {
		set, err := vs.RekorSignPayload(sgtlog.RekorPayload{
			Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), IntegratedTime: tle.IntegratedTime,
			LogIndex: tle.LogIndex, LogID: hex.EncodeToString(tle.LogId.KeyId),
		})
		if err != nil {
			t.Fatal(err)
		}
		tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	}
	return tle
}

// virtualRoot is a trusted root naming a virtual Sigstore's CA, TSA and
// logs, as JSON; change edits it first.
func virtualRoot(t testing.TB, vs *sgca.VirtualSigstore, change func(tr *cosign.TrustedRoot)) []byte {
	t.Helper()
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), vs.CTLogs(), vs.TimestampingAuthorities(), vs.RekorLogs())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	pb, err := cosign.ParseTrustedRoot(raw)
	if err != nil {
		t.Fatal(err)
	}
	// The virtual logs' IDs are hex strings held as bytes: written to JSON
	// they would name no entry. Put the raw IDs in the root.
	for _, l := range append(pb.Tlogs, pb.Ctlogs...) {
		if id, err := hex.DecodeString(string(l.GetLogId().GetKeyId())); err == nil {
			l.LogId.KeyId = id
		}
	}
	if change != nil {
		change(pb)
	}
	out, err := cosign.MarshalTrust(pb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustJSON(t testing.TB, b *cosign.Bundle) []byte {
	t.Helper()
	out, err := protojson.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func b64(s string) ([]byte, error) {
	var out []byte
	err := json.Unmarshal([]byte(`"`+s+`"`), &out)
	return out, err
}

func cloneBundle(b *cosign.Bundle) *cosign.Bundle {
	raw, _ := protojson.Marshal(b)
	c := &cosign.Bundle{}
	_ = protojson.Unmarshal(raw, c)
	return c
}

func mutate(t testing.TB, b *cosign.Bundle, f func(b *cosign.Bundle)) []byte {
	c := cloneBundle(b)
	f(c)
	return mustJSON(t, c)
}

// TestDifferentialVirtualSigstore: bundles from sigstore-go's own virtual
// Sigstore (CA, TSA, Rekor v1 and v2 logs; its certificates carry no SCT, so
// neither side checks one here).
func TestDifferentialVirtualSigstore(t *testing.T) {
	vs, err := sgca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	other, err := sgca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const id, iss = "dev@virtual.test", "https://issuer.virtual.test"
	artifact := []byte("differential artifact")
	statement := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + sha256hex(artifact) + `"}}],"predicateType":"https://example.test/p","predicate":{}}`)
	rootJSON := virtualRoot(t, vs, nil)

	msg, err := vs.Sign(id, iss, artifact)
	if err != nil {
		t.Fatal(err)
	}
	dsseV1, err := vs.AttestAtTime(id, iss, statement, time.Now().Add(5*time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	dsseV2, err := vs.AttestHashedRekordV2(id, iss, statement)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := vs.SignAtTime(id, iss, artifact, time.Now().Add(20*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	early, err := vs.SignAtTime(id, iss, artifact, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	byOther, err := other.Sign(id, iss, artifact)
	if err != nil {
		t.Fatal(err)
	}
	mb, d1, d2 := entityBundle(t, vs, msg), entityBundle(t, vs, dsseV1), entityBundle(t, vs, dsseV2)
	otherRoot := virtualRoot(t, other, nil)
	withRoot := func(change func(tr *cosign.TrustedRoot)) []byte { return virtualRoot(t, vs, change) }
	otherPB, _ := cosign.ParseTrustedRoot(otherRoot)
	past := func(tr *protocommon.TimeRange) *protocommon.TimeRange {
		return &protocommon.TimeRange{Start: tr.GetStart(), End: timestamppb.New(time.Now().Add(-2 * time.Hour))}
	}

	base := func(name string, b []byte, accept bool) diffCase {
		return diffCase{name: name, bundle: b, root: rootJSON, artifact: artifact, subject: id, issuer: iss, accept: accept}
	}
	cases := []diffCase{
		base("message signature, v0.1, SET only", mustJSON(t, mb), true),
		base("DSSE, Rekor v1 dsse entry with proof", mustJSON(t, d1), true),
		base("DSSE, Rekor v2 hashedrekord entry", mustJSON(t, d2), true),
		base("certificate expired when integrated", mustJSON(t, entityBundle(t, vs, expired)), false),
		base("certificate not yet valid when integrated", mustJSON(t, entityBundle(t, vs, early)), false),
		base("signed by another instance's CA and log", mustJSON(t, entityBundle(t, other, byOther)), false),
		base("signature corrupted", mutate(t, mb, func(b *cosign.Bundle) { flipAt(b.GetMessageSignature().Signature) }), false),
		base("SET corrupted", mutate(t, mb, func(b *cosign.Bundle) {
			flipAt(b.GetVerificationMaterial().GetTlogEntries()[0].GetInclusionPromise().SignedEntryTimestamp)
		}), false),
		base("integrated time moved", mutate(t, mb, func(b *cosign.Bundle) { b.GetVerificationMaterial().GetTlogEntries()[0].IntegratedTime++ }), false),
		base("no log entry", mutate(t, mb, func(b *cosign.Bundle) { b.VerificationMaterial.TlogEntries = nil }), false),
		base("timestamp removed (the SET still dates it)", mutate(t, mb, func(b *cosign.Bundle) { b.VerificationMaterial.TimestampVerificationData = nil }), true),
		base("DSSE proof hash corrupted", mutate(t, d1, func(b *cosign.Bundle) {
			p := b.GetVerificationMaterial().GetTlogEntries()[0].GetInclusionProof()
			p.RootHash = append([]byte{}, p.RootHash...)
			flipAt(p.RootHash)
		}), false),
		base("DSSE payload changed", mutate(t, d1, func(b *cosign.Bundle) {
			b.GetDsseEnvelope().Payload = bytes.Replace(b.GetDsseEnvelope().Payload, []byte("example.test"), []byte("example.evil"), 1)
		}), false),
		base("Rekor v2 checkpoint signature corrupted", mutate(t, d2, func(b *cosign.Bundle) {
			p := b.GetVerificationMaterial().GetTlogEntries()[0].GetInclusionProof()
			env := []byte(p.Checkpoint.Envelope)
			env[len(env)-6] ^= 1
			p.Checkpoint.Envelope = string(env)
		}), false),
		base("Rekor v2 log index moved (the proof no longer reaches the root)", mutate(t, d2, func(b *cosign.Bundle) { b.GetVerificationMaterial().GetTlogEntries()[0].LogIndex++ }), false),
		base("Rekor v2 timestamp removed: nothing dates it", mutate(t, d2, func(b *cosign.Bundle) { b.VerificationMaterial.TimestampVerificationData = nil }), false),
		{name: "wrong identity", bundle: mustJSON(t, mb), root: rootJSON, artifact: artifact, subject: "eve@virtual.test", issuer: iss},
		{name: "wrong issuer", bundle: mustJSON(t, mb), root: rootJSON, artifact: artifact, subject: id, issuer: "https://evil.test"},
		{name: "another artifact", bundle: mustJSON(t, mb), root: rootJSON, artifact: []byte("other"), subject: id, issuer: iss},
		{name: "another artifact for the statement", bundle: mustJSON(t, d1), root: rootJSON, artifact: []byte("other"), subject: id, issuer: iss},
		{name: "untrusted CA (the root names another)", bundle: mustJSON(t, mb), artifact: artifact, subject: id, issuer: iss,
			root: withRoot(func(tr *cosign.TrustedRoot) { tr.CertificateAuthorities = otherPB.CertificateAuthorities })},
		{name: "SET from an unknown log (the root names another)", bundle: mustJSON(t, mb), artifact: artifact, subject: id, issuer: iss,
			root: withRoot(func(tr *cosign.TrustedRoot) { tr.Tlogs = otherPB.Tlogs })},
		{name: "CA window ended before signing", bundle: mustJSON(t, mb), artifact: artifact, subject: id, issuer: iss,
			root: withRoot(func(tr *cosign.TrustedRoot) {
				tr.CertificateAuthorities[0].ValidFor = past(tr.CertificateAuthorities[0].ValidFor)
			})},
		{name: "log window ended before integration", bundle: mustJSON(t, mb), artifact: artifact, subject: id, issuer: iss,
			root: withRoot(func(tr *cosign.TrustedRoot) { tr.Tlogs[0].PublicKey.ValidFor = past(tr.Tlogs[0].PublicKey.ValidFor) })},
		{name: "timestamp outside the TSA's window, SET dates it", bundle: mustJSON(t, mb), artifact: artifact, subject: id, issuer: iss, accept: true,
			root: withRoot(func(tr *cosign.TrustedRoot) {
				tr.TimestampAuthorities[0].ValidFor = past(tr.TimestampAuthorities[0].ValidFor)
			})},
		{name: "timestamp outside the TSA's window, signed timestamp required", bundle: mustJSON(t, mb), artifact: artifact, subject: id, issuer: iss,
			opts: oracleOpts{signedTimestamps: true},
			root: withRoot(func(tr *cosign.TrustedRoot) {
				tr.TimestampAuthorities[0].ValidFor = past(tr.TimestampAuthorities[0].ValidFor)
			})},
		{name: "signed timestamp required and present", bundle: mustJSON(t, mb), root: rootJSON, artifact: artifact, subject: id, issuer: iss, accept: true, opts: oracleOpts{signedTimestamps: true}},
		{name: "Rekor v2 timestamp from an untrusted TSA", bundle: mustJSON(t, d2), artifact: artifact, subject: id, issuer: iss,
			root: withRoot(func(tr *cosign.TrustedRoot) { tr.TimestampAuthorities = otherPB.TimestampAuthorities })},
	}
	runDifferential(t, cases)
}

func flipAt(b []byte) { b[len(b)/2] ^= 1 }

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestDifferentialSCT: bundles from Hallmark's own test instance, whose
// certificates carry SCTs, so both verifiers require a verified SCT.
func TestDifferentialSCT(t *testing.T) {
	s := sigstoretest.New(t)
	rootJSON, err := cosign.MarshalTrust(s.TrustedRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	otherCT, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	untrusted, untrustedKey := s.UntrustedCA(t)
	hourAgo := time.Now().Add(-time.Hour)
	bundleFor := func(o sigstoretest.CertOptions, e sigstoretest.Evidence) []byte {
		if o.Subject == "" {
			o.Subject, o.Issuer = subject, issuer
		}
		return mustJSON(t, s.BlobBundle(t, s.Issue(t, o), blob, e))
	}
	ctPast := func() []byte {
		pb := s.TrustedRoot(t)
		pb.Ctlogs[0].PublicKey.ValidFor.End = timestamppb.New(hourAgo)
		pb.Ctlogs[0].PublicKey.ValidFor.Start = timestamppb.New(hourAgo.Add(-time.Hour))
		out, _ := cosign.MarshalTrust(pb)
		return out
	}()
	sct := oracleOpts{sct: true}
	c := func(name string, b, root []byte, o oracleOpts, accept bool) diffCase {
		return diffCase{name: name, bundle: b, root: root, artifact: blob, subject: subject, issuer: issuer, opts: o, accept: accept}
	}
	runDifferential(t, []diffCase{
		c("good", bundleFor(sigstoretest.CertOptions{}, sigstoretest.Evidence{}), rootJSON, sct, true),
		c("good, with a timestamp", bundleFor(sigstoretest.CertOptions{}, sigstoretest.Evidence{Timestamp: true}), rootJSON, oracleOpts{sct: true, signedTimestamps: true}, true),
		c("no SCT", bundleFor(sigstoretest.CertOptions{Subject: subject, Issuer: issuer, NoSCT: true}, sigstoretest.Evidence{}), rootJSON, sct, false),
		c("no SCT, not required", bundleFor(sigstoretest.CertOptions{Subject: subject, Issuer: issuer, NoSCT: true}, sigstoretest.Evidence{}), rootJSON, oracleOpts{}, true),
		c("SCT from an unknown CT log", bundleFor(sigstoretest.CertOptions{Subject: subject, Issuer: issuer, SCTKey: otherCT}, sigstoretest.Evidence{}), rootJSON, sct, false),
		c("SCT signature corrupted", bundleFor(sigstoretest.CertOptions{Subject: subject, Issuer: issuer, CorruptSCT: true}, sigstoretest.Evidence{}), rootJSON, sct, false),
		c("SCT outside the CT log's window", bundleFor(sigstoretest.CertOptions{}, sigstoretest.Evidence{}), ctPast, sct, false),
		c("untrusted CA", bundleFor(sigstoretest.CertOptions{Subject: subject, Issuer: issuer, IssuerCert: untrusted, IssuerKey: untrustedKey}, sigstoretest.Evidence{}), rootJSON, sct, false),
		c("expired at signing time", bundleFor(sigstoretest.CertOptions{Subject: subject, Issuer: issuer, NotBefore: hourAgo}, sigstoretest.Evidence{}), rootJSON, sct, false),
		c("timestamp outside the certificate's validity", bundleFor(sigstoretest.CertOptions{}, sigstoretest.Evidence{Timestamp: true, TimestampTime: hourAgo}), rootJSON, sct, false),
		c("proof only, dated by a timestamp", bundleFor(sigstoretest.CertOptions{}, sigstoretest.Evidence{NoSET: true, Timestamp: true}), rootJSON, sct, true),
		c("proof only, nothing dates it", bundleFor(sigstoretest.CertOptions{}, sigstoretest.Evidence{NoSET: true}), rootJSON, sct, false),
		c("SET from an unknown log", bundleFor(sigstoretest.CertOptions{}, sigstoretest.Evidence{LogKey: otherCT}), rootJSON, sct, false),
		c("timestamp by an unknown TSA key, required", bundleFor(sigstoretest.CertOptions{}, sigstoretest.Evidence{Timestamp: true, TimestampKey: otherCT}), rootJSON, oracleOpts{sct: true, signedTimestamps: true}, false),
		c("timestamp by an unknown TSA key, SET dates it", bundleFor(sigstoretest.CertOptions{}, sigstoretest.Evidence{Timestamp: true, TimestampKey: otherCT}), rootJSON, sct, true),
		c("URI subject", bundleFor(sigstoretest.CertOptions{Subject: "https://ci.test/workflow@refs/heads/main", Issuer: issuer}, sigstoretest.Evidence{}), rootJSON, sct, false),
	})
}
