package admit_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/pkg/admit"
	"hallmark.dev/hallmark/pkg/attest"
	"hallmark.dev/hallmark/pkg/imagepolicy"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/sign"
	"hallmark.dev/hallmark/pkg/verify"
)

// signer is a key and what it signs with.
type signer struct {
	key *ecdsa.PrivateKey
	s   *sign.Signer
}

func newSigner(t *testing.T) *signer { return newSignerTB(t) }

func newSignerTB(t testing.TB) *signer {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := sign.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{key: k, s: s}
}

// pem is the public key as policies hold it, indented for YAML.
func (s *signer) pem(indent string) string {
	der, _ := x509.MarshalPKIXPublicKey(s.key.Public())
	p := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return strings.ReplaceAll(strings.TrimSpace(p), "\n", "\n"+indent)
}

// sign signs d in format (both when "").
func (s *signer) sign(t *testing.T, d name.Digest, formats ...verify.Format) {
	s.signTB(t, d, formats...)
}

func (s *signer) signTB(t testing.TB, d name.Digest, formats ...verify.Format) {
	t.Helper()
	c, _ := oci.New()
	_, desc, err := c.Resolve(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(formats) == 0 {
		formats = []verify.Format{verify.FormatBundle, verify.FormatLegacy}
	}
	for _, f := range formats {
		if _, err := s.s.SignImage(t.Context(), c, d, desc, f, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// attest attaches a statement of predicateType with predicate to d.
func (s *signer) attest(t *testing.T, d name.Digest, predicateType, predicate string, format verify.Format) {
	t.Helper()
	c, _ := oci.New()
	_, desc, err := c.Resolve(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	st, err := attest.NewStatement(d.Context().Name(), strings.TrimPrefix(d.DigestStr(), "sha256:"), predicateType, json.RawMessage(predicate))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.s.AttestImage(t.Context(), c, d, desc, format, st, predicateType, false); err != nil {
		t.Fatal(err)
	}
}

func engine(t *testing.T, policyYAML string, mod ...func(*admit.Config)) *admit.Engine {
	return engineTB(t, policyYAML, mod...)
}

func engineTB(t testing.TB, policyYAML string, mod ...func(*admit.Config)) *admit.Engine {
	t.Helper()
	ps, err := imagepolicy.Parse("test.yaml", []byte(policyYAML))
	if err != nil {
		t.Fatal(err)
	}
	cfg := admit.Config{Policies: ps, NoMatch: admit.NoMatchDeny}
	for _, m := range mod {
		m(&cfg)
	}
	e, err := admit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func decide(t *testing.T, e *admit.Engine, images ...string) *admit.Decision {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var r admit.Request
	r.Namespace, r.Kind = "default", "Pod"
	for i, im := range images {
		r.Images = append(r.Images, admit.Image{Path: fmt.Sprintf("/spec/containers/%d/image", i), Ref: im})
	}
	return e.Decide(ctx, r)
}

func cipKey(name, glob string, s *signer) string {
	return fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: %s
spec:
  images:
  - glob: "%s"
  authorities:
  - name: release-key
    key:
      data: |
        %s
`, name, glob, s.pem("        "))
}

func wantDenied(t *testing.T, d *admit.Decision, substrings ...string) {
	t.Helper()
	if d.Allowed {
		t.Fatalf("allowed; want denied (%v)", d.Images)
	}
	all := strings.Join(d.Denials, "\n")
	for _, s := range substrings {
		if !strings.Contains(all, s) {
			t.Errorf("denial %q does not say %q", all, s)
		}
	}
}

func wantAllowed(t *testing.T, d *admit.Decision) {
	t.Helper()
	if !d.Allowed {
		t.Fatalf("denied; want allowed: %s", strings.Join(d.Denials, "\n"))
	}
}

// TestKeyAuthority: a key-signed image passes; an unsigned image, one
// signed by another key and one carrying another image's signature do not,
// and each denial names image, policy, authority and the check.
func TestKeyAuthority(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	good := hallmarktest.PushImage(t, reg.Host, "app:v1", "good")
	unsigned := hallmarktest.PushImage(t, reg.Host, "app:v2", "unsigned")
	other := hallmarktest.PushImage(t, reg.Host, "app:v3", "other")
	replayed := hallmarktest.PushImage(t, reg.Host, "app:v4", "replayed")
	release, mallory := newSigner(t), newSigner(t)
	release.sign(t, good)
	mallory.sign(t, other)
	copySignatures(t, good, replayed) // good's signature, replayed onto another image

	e := engine(t, cipKey("release", reg.Host+"/app*", release))
	wantAllowed(t, decide(t, e, good.String()))
	wantDenied(t, decide(t, e, unsigned.String()), unsigned.String(), "ClusterImagePolicy/release", "authority release-key", "no signatures found")
	wantDenied(t, decide(t, e, other.String()), "ClusterImagePolicy/release", "authority release-key", "none verified")
	wantDenied(t, decide(t, e, replayed.String()), "authority release-key", "digest")
}

// copySignatures tags src's legacy signature image as dst's: a signature
// replayed onto another image.
func copySignatures(t *testing.T, src, dst name.Digest) {
	t.Helper()
	c, _ := oci.New()
	desc, err := remote.Get(c.LegacyTag(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(c.LegacyTag(dst), desc); err != nil {
		t.Fatal(err)
	}
}

// TestNofM: a Kyverno attestor set of two keys with count 2 needs both
// signers; a ClusterImagePolicy says it with the hallmark.dev/count
// annotation.
func TestNofM(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	one := hallmarktest.PushImage(t, reg.Host, "app:one", "one")
	both := hallmarktest.PushImage(t, reg.Host, "app:both", "both")
	a, b := newSigner(t), newSigner(t)
	a.sign(t, one)
	a.sign(t, both)
	b.sign(t, both)
	kyv := fmt.Sprintf(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: two-signers
spec:
  validationFailureAction: Enforce
  rules:
  - name: two
    match:
      any:
      - resources:
          kinds: [Pod]
    verifyImages:
    - imageReferences: ["%s/app*"]
      mutateDigest: false
      verifyDigest: false
      attestors:
      - count: 2
        entries:
        - keys:
            publicKeys: |-
              %s
            rekor: {url: "https://rekor.invalid", ignoreTlog: true}
        - keys:
            publicKeys: |-
              %s
            rekor: {url: "https://rekor.invalid", ignoreTlog: true}
`, reg.Host, a.pem("              "), b.pem("              "))
	e := engine(t, kyv)
	wantAllowed(t, decide(t, e, both.String()))
	wantDenied(t, decide(t, e, one.String()), "ClusterPolicy/two-signers/two", "want 2 of 2 authorities, got 1")

	cip := fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: two-of-two
  annotations:
    hallmark.dev/count: "2"
spec:
  images: [{glob: "%s/app*"}]
  authorities:
  - name: a
    key: {data: "%s"}
  - name: b
    key: {data: "%s"}
`, reg.Host, jsonEscape(a.pem("")), jsonEscape(b.pem("")))
	e = engine(t, cip)
	wantAllowed(t, decide(t, e, both.String()))
	wantDenied(t, decide(t, e, one.String()), "want 2 of 2 authorities, got 1", "authority b")
	// Without the annotation, one of the two is enough (policy-controller).
	e = engine(t, strings.Replace(cip, `hallmark.dev/count: "2"`, `other: x`, 1))
	wantAllowed(t, decide(t, e, one.String()))
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

// TestStaticWarnNoMatch: static pass and fail, warn mode (allowed with a
// warning) and each no-match setting.
func TestStaticWarnNoMatch(t *testing.T) {
	static := func(action, mode string) string {
		return fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: static-%s}
spec:
  mode: %s
  images: [{glob: "registry.example/**"}]
  authorities:
  - static: {action: %s, message: "frozen for the release"}
`, action, mode, action)
	}
	img := "registry.example/team/app@sha256:" + strings.Repeat("a", 64)
	wantAllowed(t, decide(t, engine(t, static("pass", "enforce")), img))
	wantDenied(t, decide(t, engine(t, static("fail", "enforce")), img), "static fail: frozen for the release")
	d := decide(t, engine(t, static("fail", "warn")), img)
	wantAllowed(t, d)
	if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "frozen for the release") {
		t.Errorf("warn mode: warnings %q", d.Warnings)
	}
	other := "elsewhere.example/app@sha256:" + strings.Repeat("b", 64)
	for _, nm := range []admit.NoMatch{admit.NoMatchAllow, admit.NoMatchWarn, admit.NoMatchDeny} {
		d := decide(t, engine(t, static("pass", "enforce"), func(c *admit.Config) { c.NoMatch = nm }), other)
		if d.Allowed != (nm != admit.NoMatchDeny) || (len(d.Warnings) == 1) != (nm == admit.NoMatchWarn) {
			t.Errorf("no-match %s: allowed %v warnings %q denials %q", nm, d.Allowed, d.Warnings, d.Denials)
		}
	}
}

// TestDigestPatch: a tag is verified as its digest and pinned to it.
func TestDigestPatch(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	d := hallmarktest.PushImage(t, reg.Host, "app:v1", "good")
	s := newSigner(t)
	s.sign(t, d)
	e := engine(t, cipKey("release", reg.Host+"/app*", s))
	tag := reg.Host + "/app:v1"
	dec := decide(t, e, tag, tag)
	wantAllowed(t, dec)
	want := tag + "@" + d.DigestStr()
	if len(dec.Patches) != 2 || dec.Patches[0].Value != want || dec.Patches[1].Path != "/spec/containers/1/image" {
		t.Fatalf("patches %+v; want both containers pinned to %s", dec.Patches, want)
	}
	patches, warnings := e.Pin(t.Context(), admit.Request{Namespace: "default", Kind: "Pod", Images: []admit.Image{{Path: "/x", Ref: tag}}})
	if len(patches) != 1 || patches[0].Value != want || len(warnings) != 0 {
		t.Fatalf("Pin: %+v %q", patches, warnings)
	}
	// mutate-digest off: verified, not pinned.
	e = engine(t, strings.Replace(cipKey("release", reg.Host+"/app*", s), "  name: release\n", "  name: release\n  annotations: {hallmark.dev/mutate-digest: \"false\"}\n", 1))
	if dec := decide(t, e, tag); !dec.Allowed || len(dec.Patches) != 0 {
		t.Fatalf("mutate-digest false: allowed %v patches %+v", dec.Allowed, dec.Patches)
	}
}

// TestCoalescing: a pod of 8 containers of one image, reviewed 50 times at
// once, is one verification: one referrers listing and one signature-tag
// read at the registry.
func TestCoalescing(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	d := hallmarktest.PushImage(t, reg.Host, "app:v1", "good")
	s := newSigner(t)
	s.sign(t, d)
	host, count := hallmarktest.CountingProxy(t, reg.Host)
	img := host + "/app@" + d.DigestStr()
	e := engine(t, cipKey("release", host+"/app*", s))
	var images []string
	for range 8 {
		images = append(images, img)
	}
	var wg sync.WaitGroup
	results := make([]*admit.Decision, 50)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = decide(t, e, images...) }()
	}
	wg.Wait()
	for i, r := range results {
		if !r.Allowed {
			t.Fatalf("review %d denied: %v", i, r.Denials)
		}
	}
	if n := e.Stats().Verifications.Load(); n != 1 {
		t.Errorf("%d verifications; want 1", n)
	}
	if n := count.Requests("/referrers/"); n != 1 {
		t.Errorf("%d referrers listings at the registry; want 1", n)
	}
	if n := count.Requests("GET /v2/app/manifests/sha256-"); n != 1 {
		t.Errorf("%d signature tag reads at the registry; want 1", n)
	}
}

// TestDeadline: a registry that stalls holds no review past its deadline;
// the denial says the verification did not finish and which registry was
// slow; fail-open allows with a warning. The verification goes on and a
// later review is answered from the cache.
func TestDeadline(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	d := hallmarktest.PushImage(t, reg.Host, "app:v1", "good")
	s := newSigner(t)
	s.sign(t, d)
	slow := hallmarktest.DripRegistry(t, reg.Host, "/manifests/sha256-", 300*time.Millisecond)
	img := slow + "/app@" + d.DigestStr()
	policy := cipKey("release", slow+"/app*", s)
	for _, failOpen := range []bool{false, true} {
		p := policy
		if failOpen {
			p = strings.Replace(p, "  name: release\n", "  name: release\n  annotations: {hallmark.dev/fail-open: \"true\"}\n", 1)
		}
		e := engine(t, p, func(c *admit.Config) { c.VerifyTimeout = 2 * time.Second })
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		start := time.Now()
		dec := e.Decide(ctx, admit.Request{Kind: "Pod", Images: []admit.Image{{Path: "/spec/containers/0/image", Ref: img}}})
		cancel()
		if el := time.Since(start); el > 1500*time.Millisecond {
			t.Errorf("answered after %v; the deadline was 1 s", el)
		}
		msg := strings.Join(append(dec.Denials, dec.Warnings...), "\n")
		if !strings.Contains(msg, "did not finish in 1.0 s (registry "+slow+" slow)") {
			t.Errorf("fail-open %v: %q does not say the verification did not finish", failOpen, msg)
		}
		if dec.Allowed != failOpen {
			t.Errorf("fail-open %v: allowed %v", failOpen, dec.Allowed)
		}
	}
}

// TestThrottledIsNotUnsigned: a registry answering 429 is reported as
// throttling, not as an image without signatures, and is not cached.
func TestThrottledIsNotUnsigned(t *testing.T) {
	host, requests := hallmarktest.StatusRegistry(t, http.StatusTooManyRequests)
	s := newSigner(t)
	e := engine(t, cipKey("release", host+"/app*", s))
	img := host + "/app@sha256:" + strings.Repeat("c", 64)
	dec := decide(t, e, img)
	wantDenied(t, dec, "throttling (429 Too Many Requests)")
	if strings.Contains(strings.Join(dec.Denials, ""), "no signatures") {
		t.Errorf("throttling reported as unsigned: %q", dec.Denials)
	}
	before := requests.Load()
	decide(t, e, img)
	if requests.Load() == before {
		t.Error("a throttled answer was cached")
	}
	// A registry where nothing listens is unreachable, not unsigned.
	dead := hallmarktest.DeadRegistry(t)
	e = engine(t, cipKey("release", dead+"/app*", s))
	wantDenied(t, decide(t, e, dead+"/app@sha256:"+strings.Repeat("c", 64)), "unreachable")
}

// TestCacheTTL: a pass is reused until its TTL, then verified again.
func TestCacheTTL(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	d := hallmarktest.PushImage(t, reg.Host, "app:v1", "good")
	s := newSigner(t)
	s.sign(t, d)
	e := engine(t, cipKey("release", reg.Host+"/app*", s), func(c *admit.Config) { c.TTL = 300 * time.Millisecond })
	decide(t, e, d.String())
	decide(t, e, d.String())
	if n := e.Stats().Verifications.Load(); n != 1 {
		t.Fatalf("%d verifications within the TTL; want 1", n)
	}
	time.Sleep(400 * time.Millisecond)
	decide(t, e, d.String())
	if n := e.Stats().Verifications.Load(); n != 2 {
		t.Fatalf("%d verifications after the TTL; want 2", n)
	}
}

const vulnType = "https://cosign.sigstore.dev/attestation/vuln/v1"

func vulnReport(critical int) string {
	return fmt.Sprintf(`{"invocation":{"uri":"grype"},"scanner":{"uri":"pkg:github/anchore/grype","version":"0.80.0","result":{"critical":%d}},"metadata":{"scanStartedOn":"2026-11-30T00:00:00Z","scanFinishedOn":"2026-11-30T00:01:00Z"}}`, critical)
}

// TestAttestations: a ClusterImagePolicy attestation with a Rego policy
// (package sigstore, isCompliant; one passing statement is enough) and a
// Kyverno attestation with conditions (every statement must pass), keyed,
// in both storage formats; a missing attestation and a failing predicate
// are denied with the policy's words.
func TestAttestations(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	clean := hallmarktest.PushImage(t, reg.Host, "app:clean", "clean")
	vulnerable := hallmarktest.PushImage(t, reg.Host, "app:vuln", "vuln")
	bare := hallmarktest.PushImage(t, reg.Host, "app:bare", "bare")
	mixed := hallmarktest.PushImage(t, reg.Host, "app:mixed", "mixed")
	s := newSigner(t)
	s.attest(t, clean, vulnType, vulnReport(0), verify.FormatBundle)
	s.attest(t, vulnerable, vulnType, vulnReport(3), verify.FormatLegacy)
	s.sign(t, bare)
	s.attest(t, mixed, vulnType, vulnReport(0), verify.FormatBundle)
	s.attest(t, mixed, vulnType, vulnReport(2), verify.FormatLegacy)

	cip := fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: no-critical}
spec:
  images: [{glob: "%s/app*"}]
  authorities:
  - name: scanner
    key: {data: "%s"}
    attestations:
    - name: vuln-scan
      predicateType: vuln
      policy:
        type: rego
        data: |
          package sigstore
          isCompliant[response] {
            critical := input.predicate.scanner.result.critical
            response := {"result": critical == 0, "error": sprintf("%%d critical vulnerabilities", [critical]), "warning": ""}
          }
`, reg.Host, jsonEscape(s.pem("")))
	e := engine(t, cip)
	wantAllowed(t, decide(t, e, clean.String()))
	wantAllowed(t, decide(t, e, mixed.String())) // one passing statement is enough
	wantDenied(t, decide(t, e, vulnerable.String()), "attestation vuln-scan", "3 critical vulnerabilities")
	wantDenied(t, decide(t, e, bare.String()), "attestation vuln-scan", "no attestations found")

	kyv := fmt.Sprintf(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: no-critical}
spec:
  validationFailureAction: Enforce
  rules:
  - name: scan
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["%s/app*"]
      attestations:
      - type: %s
        attestors:
        - entries:
          - keys:
              publicKeys: "%s"
              rekor: {url: "https://rekor.invalid", ignoreTlog: true}
        conditions:
        - all:
          - key: "{{ scanner.result.critical }}"
            operator: Equals
            value: 0
            message: no critical vulnerabilities allowed
`, reg.Host, vulnType, jsonEscape(s.pem("")))
	e = engine(t, kyv)
	wantAllowed(t, decide(t, e, clean.String()))
	wantDenied(t, decide(t, e, mixed.String()), "every verified attestation must satisfy", "no critical vulnerabilities allowed")
	wantDenied(t, decide(t, e, vulnerable.String()), "no critical vulnerabilities allowed", "got 3")
}
