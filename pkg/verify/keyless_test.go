package verify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"hallmark.dev/hallmark/internal/hallmarktest/sigstoretest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/trust"
	"hallmark.dev/hallmark/pkg/verify"
)

const (
	subject = "dev@hallmark.test"
	issuer  = "https://oidc.test.local"
	imageD  = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

var blob = []byte("an artifact")

func keylessVerifier(t *testing.T, m *trust.Material, ids []verify.Identity, opts ...verify.Option) *verify.Verifier {
	t.Helper()
	if ids == nil {
		ids = []verify.Identity{{Subject: subject, Issuer: issuer}}
	}
	v, err := verify.NewCertificateVerifier(ids, append([]verify.Option{verify.WithTrust(m)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestKeylessChecks: one good signature in each format, then each check's
// negative, each failing at its own step.
func TestKeylessChecks(t *testing.T) {
	s := sigstoretest.New(t)
	m := s.Material(t)
	v := keylessVerifier(t, m, nil)
	good := s.Issue(t, sigstoretest.CertOptions{Subject: subject, Issuer: issuer})

	r, err := v.VerifyBlobBundle(s.BlobBundle(t, good, blob, sigstoretest.Evidence{}), verify.BlobData(blob))
	if err != nil {
		t.Fatalf("good blob bundle: %v", err)
	}
	if r.Certificate == nil || r.Certificate.Subject != subject || r.Certificate.Extensions.Issuer != issuer || !r.TlogVerified {
		t.Fatalf("result: %+v", r)
	}
	if _, err := v.VerifyImageBundle(s.ImageBundle(t, good, imageD, nil, sigstoretest.Evidence{}), verify.Policy{Digest: imageD}); err != nil {
		t.Fatalf("good image bundle: %v", err)
	}
	payload, ann := s.LegacySignature(t, good, "reg/app", imageD, nil, sigstoretest.Evidence{Timestamp: true})
	if _, err := v.VerifyLegacy(verify.LegacyFromAnnotations(payload, ann), verify.Policy{Digest: imageD}); err != nil {
		t.Fatalf("good legacy signature: %v", err)
	}

	untrusted, untrustedKey := s.UntrustedCA(t)
	hourAgo := time.Now().Add(-time.Hour)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cases := []struct {
		name string
		cert sigstoretest.CertOptions
		ev   sigstoretest.Evidence
		v    *verify.Verifier
		want error
	}{
		{"wrong subject", sigstoretest.CertOptions{Subject: "eve@hallmark.test", Issuer: issuer}, sigstoretest.Evidence{}, nil, verify.ErrIdentity},
		{"wrong issuer", sigstoretest.CertOptions{Subject: subject, Issuer: "https://evil.test"}, sigstoretest.Evidence{}, nil, verify.ErrIdentity},
		{"untrusted CA", sigstoretest.CertOptions{Subject: subject, Issuer: issuer, IssuerCert: untrusted, IssuerKey: untrustedKey}, sigstoretest.Evidence{}, nil, verify.ErrCertificate},
		{"expired at signing time", sigstoretest.CertOptions{Subject: subject, Issuer: issuer, NotBefore: hourAgo}, sigstoretest.Evidence{}, nil, verify.ErrCertificate},
		{"not yet valid at signing time", sigstoretest.CertOptions{Subject: subject, Issuer: issuer}, sigstoretest.Evidence{IntegratedTime: hourAgo}, nil, verify.ErrCertificate},
		{"no code-signing EKU", sigstoretest.CertOptions{Subject: subject, Issuer: issuer, NoEKU: true}, sigstoretest.Evidence{}, nil, verify.ErrCertificate},
		{"server-auth EKU", sigstoretest.CertOptions{Subject: subject, Issuer: issuer, ServerAuthEKU: true}, sigstoretest.Evidence{}, nil, verify.ErrCertificate},
		{"no SCT", sigstoretest.CertOptions{Subject: subject, Issuer: issuer, NoSCT: true}, sigstoretest.Evidence{}, nil, verify.ErrSCT},
		{"SCT from an unknown CT log", sigstoretest.CertOptions{Subject: subject, Issuer: issuer, SCTKey: otherKey}, sigstoretest.Evidence{}, nil, verify.ErrSCT},
		{"SCT signature corrupted", sigstoretest.CertOptions{Subject: subject, Issuer: issuer, CorruptSCT: true}, sigstoretest.Evidence{}, nil, verify.ErrSCT},
		{"SET from an unknown log", sigstoretest.CertOptions{Subject: subject, Issuer: issuer}, sigstoretest.Evidence{LogKey: otherKey}, nil, verify.ErrTlog},
		{"no log entry", sigstoretest.CertOptions{Subject: subject, Issuer: issuer}, sigstoretest.Evidence{NoEntry: true}, nil, verify.ErrTlog},
		{"proof only: nothing dates it", sigstoretest.CertOptions{Subject: subject, Issuer: issuer}, sigstoretest.Evidence{NoSET: true}, nil, verify.ErrTimestamp},
		{"timestamp outside the certificate's validity", sigstoretest.CertOptions{Subject: subject, Issuer: issuer}, sigstoretest.Evidence{Timestamp: true, TimestampTime: hourAgo}, nil, verify.ErrCertificate},
		{"signed timestamp required, none", sigstoretest.CertOptions{Subject: subject, Issuer: issuer}, sigstoretest.Evidence{}, keylessVerifier(t, m, nil, verify.WithSignedTimestamps()), verify.ErrTimestamp},
		{"signed timestamp required, by an unknown TSA key", sigstoretest.CertOptions{Subject: subject, Issuer: issuer}, sigstoretest.Evidence{Timestamp: true, TimestampKey: otherKey}, keylessVerifier(t, m, nil, verify.WithSignedTimestamps()), verify.ErrTimestamp},
		{"log check waived: checked now, expired", sigstoretest.CertOptions{Subject: subject, Issuer: issuer, NotBefore: hourAgo}, sigstoretest.Evidence{NoEntry: true}, keylessVerifier(t, m, nil, verify.WithoutTlogUnsafe()), verify.ErrCertificate},
		{"GitHub workflow extension differs", sigstoretest.CertOptions{Subject: subject, Issuer: issuer, Extensions: cosign.CertExtensions{GithubWorkflowRef: "refs/heads/dev"}}, sigstoretest.Evidence{},
			keylessVerifier(t, m, []verify.Identity{{Subject: subject, Issuer: issuer, Extensions: cosign.CertExtensions{GithubWorkflowRef: "refs/heads/main"}}}), verify.ErrIdentity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vv := v
			if tc.v != nil {
				vv = tc.v
			}
			sg := s.Issue(t, tc.cert)
			_, err := vv.VerifyBlobBundle(s.BlobBundle(t, sg, blob, tc.ev), verify.BlobData(blob))
			if !errors.Is(err, tc.want) {
				t.Fatalf("blob bundle: got %v, want %v", err, tc.want)
			}
			if tc.ev.NoSET {
				return // a legacy layer's Rekor bundle is a SET: it has no proof-only form
			}
			payload, ann := s.LegacySignature(t, sg, "reg/app", imageD, nil, tc.ev)
			if _, err := vv.VerifyLegacy(verify.LegacyFromAnnotations(payload, ann), verify.Policy{Digest: imageD}); !errors.Is(err, tc.want) {
				t.Fatalf("legacy signature: got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestKeylessEvidenceAccepted: what sigstore-go accepts besides the usual
// SET: a proof-only entry dated by a timestamp, the SCT check waived, a
// regexp identity, a username-free URI subject, the deprecated issuer.
func TestKeylessEvidenceAccepted(t *testing.T) {
	s := sigstoretest.New(t)
	m := s.Material(t)
	cases := []struct {
		name string
		cert sigstoretest.CertOptions
		ev   sigstoretest.Evidence
		v    *verify.Verifier
	}{
		{"proof only, dated by a timestamp", sigstoretest.CertOptions{Subject: subject, Issuer: issuer}, sigstoretest.Evidence{NoSET: true, Timestamp: true}, nil},
		{"SET only", sigstoretest.CertOptions{Subject: subject, Issuer: issuer}, sigstoretest.Evidence{NoProof: true}, nil},
		{"no SCT, check waived", sigstoretest.CertOptions{Subject: subject, Issuer: issuer, NoSCT: true}, sigstoretest.Evidence{}, keylessVerifier(t, m, nil, verify.WithoutSCTUnsafe())},
		{"signed timestamp required and present", sigstoretest.CertOptions{Subject: subject, Issuer: issuer}, sigstoretest.Evidence{Timestamp: true}, keylessVerifier(t, m, nil, verify.WithSignedTimestamps())},
		{"log waived, dated by a timestamp", sigstoretest.CertOptions{Subject: subject, Issuer: issuer, NotBefore: time.Now().Add(-time.Hour)}, sigstoretest.Evidence{NoEntry: true, Timestamp: true, TimestampTime: time.Now().Add(-55 * time.Minute)},
			keylessVerifier(t, m, nil, verify.WithoutTlogUnsafe())},
		{"URI subject by anchored regexp", sigstoretest.CertOptions{Subject: "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main", Issuer: issuer}, sigstoretest.Evidence{},
			keylessVerifier(t, m, []verify.Identity{{SubjectRegexp: `^https://github\.com/org/repo/`, Issuer: issuer}})},
		{"deprecated issuer extension", sigstoretest.CertOptions{Subject: subject, Issuer: issuer, LegacyIssuer: true}, sigstoretest.Evidence{}, nil},
		{"second of two identities", sigstoretest.CertOptions{Subject: subject, Issuer: issuer}, sigstoretest.Evidence{},
			keylessVerifier(t, m, []verify.Identity{{Subject: "other@x", Issuer: issuer}, {Subject: subject, IssuerRegexp: `^https://oidc\.test\.local$`}})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			if v == nil {
				v = keylessVerifier(t, m, nil)
			}
			sg := s.Issue(t, tc.cert)
			if _, err := v.VerifyBlobBundle(s.BlobBundle(t, sg, blob, tc.ev), verify.BlobData(blob)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKeylessFormatMismatch: a keyless verifier meets a key-signed bundle
// (no certificate), and a key verifier a certificate bundle.
func TestKeylessFormatMismatch(t *testing.T) {
	s := sigstoretest.New(t)
	m := s.Material(t)
	sg := s.Issue(t, sigstoretest.CertOptions{Subject: subject, Issuer: issuer})
	b := s.BlobBundle(t, sg, blob, sigstoretest.Evidence{})
	keyed, _ := verify.NewKeyVerifier(&sg.Key.PublicKey, verify.WithTrust(m))
	if _, err := keyed.VerifyBlobBundle(b, verify.BlobData(blob)); !errors.Is(err, verify.ErrFormat) {
		t.Errorf("key verifier, certificate bundle: %v", err)
	}
	noCert := proto.Clone(b).(*cosign.Bundle)
	noCert.GetVerificationMaterial().Content = cosign.NewMessageBundle(nil, nil, "hint").GetVerificationMaterial().GetContent()
	if _, err := keylessVerifier(t, m, nil).VerifyBlobBundle(noCert, verify.BlobData(blob)); !errors.Is(err, verify.ErrNoCertificate) {
		t.Errorf("keyless verifier, key-signed bundle: %v", err)
	}
}

// TestIdentityPolicy covers matching rules on their own.
func TestIdentityPolicy(t *testing.T) {
	if _, err := verify.NewCertificateVerifier(nil); err == nil {
		t.Error("no identity accepted")
	}
	m := &trust.Material{CAs: []trust.CA{{}}, CTLogs: []trust.Log{{}}}
	for name, id := range map[string]verify.Identity{
		"no subject":   {Issuer: issuer},
		"no issuer":    {Subject: subject},
		"bad regexp":   {SubjectRegexp: "(", Issuer: issuer},
		"issuer twice": {Subject: subject, Issuer: issuer, Extensions: cosign.CertExtensions{Issuer: issuer}},
	} {
		if _, err := verify.NewCertificateVerifier([]verify.Identity{id}, verify.WithTrust(m)); !errors.Is(err, verify.ErrIdentity) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for re, want := range map[string]string{
		"^https://github.com/org/": "begins with", "token": "anywhere", "org/repo$": "ends with", "^a$": "", "": "",
		"^a|b$": "anywhere", "^a$|^b$": "", "^(a|b)$": "", "(^a$)": "", "^a$|b": "anywhere", "(": "",
	} {
		if got := verify.Unanchored(re); want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("Unanchored(%q) = %q, want it to say %q", re, got, want)
		}
	}
	// A verifier needs CAs, and CT logs unless the SCT check is waived.
	if _, err := verify.NewCertificateVerifier([]verify.Identity{{Subject: subject, Issuer: issuer}}, verify.WithTrust(&trust.Material{})); err == nil {
		t.Error("verifier without CAs accepted")
	}
	if _, err := verify.NewCertificateVerifier([]verify.Identity{{Subject: subject, Issuer: issuer}}, verify.WithTrust(&trust.Material{CAs: m.CAs})); err == nil {
		t.Error("verifier without CT logs accepted")
	}
}

// TestTrustedRootWindows: each authority is believed only inside its window
// in the trusted root, and a log entry proven only by an inclusion proof
// counts, from a log whose key is no longer valid, only with a signed time
// inside the key's window.
func TestTrustedRootWindows(t *testing.T) {
	now := time.Now()
	past := &trust.Window{Start: now.Add(-3 * time.Hour), End: now.Add(-30 * time.Minute)}
	longCert := sigstoretest.CertOptions{Subject: subject, Issuer: issuer, NotBefore: now.Add(-50 * time.Minute), Validity: time.Hour}
	cases := []struct {
		name   string
		window func(s *sigstoretest.Sigstore)
		cert   sigstoretest.CertOptions
		ev     sigstoretest.Evidence
		opts   []verify.Option
		want   error // nil: accepted
	}{
		{"CA window ended before signing", func(s *sigstoretest.Sigstore) { s.CAWindow = past }, sigstoretest.CertOptions{}, sigstoretest.Evidence{}, nil, verify.ErrCertificate},
		{"CT log window ended before the SCT", func(s *sigstoretest.Sigstore) { s.CTWindow = past }, sigstoretest.CertOptions{}, sigstoretest.Evidence{}, nil, verify.ErrSCT},
		{"log window ended before integration", func(s *sigstoretest.Sigstore) { s.LogWindow = past }, sigstoretest.CertOptions{}, sigstoretest.Evidence{}, nil, verify.ErrTlog},
		{"TSA window ended before the timestamp", func(s *sigstoretest.Sigstore) { s.TSAWindow = past }, sigstoretest.CertOptions{}, sigstoretest.Evidence{Timestamp: true}, []verify.Option{verify.WithSignedTimestamps()}, verify.ErrTimestamp},
		{"proof only, log window ended, timestamp after it", func(s *sigstoretest.Sigstore) { s.LogWindow = past }, sigstoretest.CertOptions{}, sigstoretest.Evidence{NoSET: true, Timestamp: true}, nil, verify.ErrTlog},
		{"proof only, log window ended, timestamp inside it", func(s *sigstoretest.Sigstore) { s.LogWindow = past }, longCert,
			sigstoretest.Evidence{NoSET: true, Timestamp: true, TimestampTime: now.Add(-40 * time.Minute), IntegratedTime: now.Add(-40 * time.Minute)}, nil, nil},
		{"proof only, log window open", func(s *sigstoretest.Sigstore) {}, sigstoretest.CertOptions{}, sigstoretest.Evidence{NoSET: true, Timestamp: true}, nil, nil},
		{"window end inclusive", func(s *sigstoretest.Sigstore) {
			s.CAWindow = &trust.Window{Start: s.Start, End: now.Truncate(time.Second)}
		}, sigstoretest.CertOptions{},
			sigstoretest.Evidence{IntegratedTime: now.Truncate(time.Second)}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := sigstoretest.New(t)
			tc.window(s)
			if tc.cert.Subject == "" {
				tc.cert = sigstoretest.CertOptions{Subject: subject, Issuer: issuer}
			}
			v := keylessVerifier(t, s.Material(t), nil, tc.opts...)
			_, err := v.VerifyBlobBundle(s.BlobBundle(t, s.Issue(t, tc.cert), blob, tc.ev), verify.BlobData(blob))
			if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestTimestampChecks: a timestamp counts only if it is over this very
// signature, granted, and signed by the trusted TSA.
func TestTimestampChecks(t *testing.T) {
	s := sigstoretest.New(t)
	v := keylessVerifier(t, s.Material(t), nil, verify.WithSignedTimestamps())
	sg := s.Issue(t, sigstoretest.CertOptions{Subject: subject, Issuer: issuer})
	b := s.BlobBundle(t, sg, blob, sigstoretest.Evidence{Timestamp: true})
	if _, err := v.VerifyBlobBundle(b, verify.BlobData(blob)); err != nil {
		t.Fatalf("good: %v", err)
	}
	swapped := proto.Clone(b).(*cosign.Bundle)
	other := s.BlobBundle(t, sg, []byte("other"), sigstoretest.Evidence{Timestamp: true})
	swapped.VerificationMaterial.TimestampVerificationData = other.VerificationMaterial.TimestampVerificationData
	if _, err := v.VerifyBlobBundle(swapped, verify.BlobData(blob)); !errors.Is(err, verify.ErrTimestamp) {
		t.Errorf("timestamp over another signature: %v", err)
	}
	garbage := proto.Clone(b).(*cosign.Bundle)
	garbage.VerificationMaterial.TimestampVerificationData.Rfc3161Timestamps[0].SignedTimestamp = []byte{0x30, 0x03, 0x02, 0x01, 0x02}
	if _, err := v.VerifyBlobBundle(garbage, verify.BlobData(blob)); !errors.Is(err, verify.ErrTimestamp) {
		t.Errorf("rejected timestamp response: %v", err)
	}
}
