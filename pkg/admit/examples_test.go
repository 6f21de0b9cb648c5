package admit_test

import (
	"crypto/x509"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/internal/hallmarktest/logtest"
	"hallmark.dev/hallmark/internal/hallmarktest/sigstoretest"
	"hallmark.dev/hallmark/pkg/admit"
	"hallmark.dev/hallmark/pkg/imagepolicy"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/sign"
	"hallmark.dev/hallmark/pkg/trust"
	"hallmark.dev/hallmark/pkg/verify"
)

// world is a registry, a transparency log, and a keyless CA with its CT
// log: what the documented examples' authorities check against.
type world struct {
	reg   string
	log   *logtest.Log
	rc    *rekor.Client
	ss    *sigstoretest.Sigstore
	trust *trust.Material
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{reg: hallmarktest.EmbeddedRegistry(t, "").Host, log: logtest.StartLog(t), ss: sigstoretest.New(t)}
	var err error
	if w.rc, err = rekor.NewClient(w.log.URL, nil); err != nil {
		t.Fatal(err)
	}
	w.trust = w.ss.Material(t)
	w.trust.Logs = w.log.Trust.Logs
	return w
}

// logged is a key signer whose signatures go to the log.
func (w *world) logged(t *testing.T) *signer {
	t.Helper()
	s := newSigner(t)
	var err error
	if s.s, err = sign.New(s.key, sign.WithLog(sign.RekorV1(w.rc))); err != nil {
		t.Fatal(err)
	}
	return s
}

// keyless is a signer with a certificate for subject from issuer, logged.
func (w *world) keyless(t *testing.T, subject, issuer string) *signer {
	t.Helper()
	sg := w.ss.Issue(t, sigstoretest.CertOptions{Subject: subject, Issuer: issuer})
	s, err := sign.New(sg.Key, sign.WithCertificate(sg.Cert, []*x509.Certificate{w.ss.Intermediate, w.ss.Root}), sign.WithLog(sign.RekorV1(w.rc)))
	if err != nil {
		t.Fatal(err)
	}
	return &signer{key: sg.Key, s: s}
}

var pemBlock = regexp.MustCompile(`(?m)^([ \t]*)-----BEGIN PUBLIC KEY-----\n(?:.*\n)*?[ \t]*-----END PUBLIC KEY-----`)

// example reads a documented policy and rewrites it for the test: its
// public keys become k's (when given), then each old → new pair.
func example(t *testing.T, w *world, file string, k *signer, pairs ...string) *admit.Engine {
	t.Helper()
	b, err := os.ReadFile("../imagepolicy/testdata/examples/" + file)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if k != nil {
		doc = pemBlock.ReplaceAllStringFunc(doc, func(m string) string {
			indent := pemBlock.FindStringSubmatch(m)[1]
			return indent + k.pem(indent)
		})
	}
	doc = strings.NewReplacer(pairs...).Replace(doc)
	ps, err := imagepolicy.Parse(file, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	e, err := admit.New(admit.Config{Policies: ps, NoMatch: admit.NoMatchAllow, TrustRoots: map[string]*trust.Material{"": w.trust}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestDocumentedKyvernoExamples: Kyverno's documented verifyImages
// policies, rewritten for test images and keys, decide as its
// documentation says.
func TestDocumentedKyvernoExamples(t *testing.T) {
	w := newWorld(t)
	t.Run("keys", func(t *testing.T) { // kyv-01: signed by the key; tags pinned
		k, other := newSigner(t), newSigner(t)
		signed := hallmarktest.PushImage(t, w.reg, "test-verify-image:signed", "signed")
		hallmarktest.PushImage(t, w.reg, "test-verify-image:unsigned", "unsigned")
		wrong := hallmarktest.PushImage(t, w.reg, "test-verify-image:wrong", "wrong")
		k.sign(t, signed)
		other.sign(t, wrong)
		e := example(t, w, "kyv-01-keys.yaml", k, "ghcr.io/kyverno", w.reg)
		d := decide(t, e, w.reg+"/test-verify-image:signed")
		wantAllowed(t, d)
		if len(d.Patches) != 1 || !strings.HasSuffix(d.Patches[0].Value, "@"+signed.DigestStr()) {
			t.Errorf("mutateDigest (default true): patches %+v", d.Patches)
		}
		wantDenied(t, decide(t, e, w.reg+"/test-verify-image:unsigned"), "no signatures found")
		wantDenied(t, decide(t, e, w.reg+"/test-verify-image:wrong"), "does not verify")
	})
	t.Run("skip", func(t *testing.T) { // kyv-06: ghcr.io/trusted/* skipped, the rest verified (with the log)
		k := w.logged(t)
		signed := hallmarktest.PushImage(t, w.reg, "team/app:v1", "team")
		k.sign(t, signed)
		trusted := hallmarktest.PushImage(t, w.reg, "trusted/base:v1", "trusted")
		unsigned := hallmarktest.PushImage(t, w.reg, "team/app:v2", "unsigned")
		e := example(t, w, "kyv-06-skip-image-references.yaml", k, "ghcr.io", w.reg)
		wantAllowed(t, decide(t, e, signed.String()))
		wantAllowed(t, decide(t, e, trusted.String()))
		wantDenied(t, decide(t, e, unsigned.String()), "no signatures found")
	})
	t.Run("attestation conditions", func(t *testing.T) { // kyv-05: code review predicate
		k := w.logged(t)
		good := hallmarktest.PushImage(t, w.reg, "org/app:good", "good")
		bad := hallmarktest.PushImage(t, w.reg, "org/app:bad", "bad")
		const review = "https://example.com/CodeReview/v1"
		k.attest(t, good, review, `{"repo":{"uri":"https://git-repo.com/org/app","branch":"main"},"reviewers":["ana@example.com"]}`, verify.FormatBundle)
		k.attest(t, bad, review, `{"repo":{"uri":"https://git-repo.com/org/app","branch":"feature"},"reviewers":["eve@example.com"]}`, verify.FormatLegacy)
		e := example(t, w, "kyv-05-attestation-conditions.yaml", k, "registry.io/org", w.reg+"/org")
		wantAllowed(t, decide(t, e, good.String()))
		wantDenied(t, decide(t, e, bad.String()), "repo.branch", `got "feature"`)
	})
	t.Run("keyless wildcard subject", func(t *testing.T) { // kyv-02: *@nirmata.com from Google
		img := hallmarktest.PushImage(t, w.reg, "test-verify-image:signed-keyless", "keyless")
		w.keyless(t, "jim@nirmata.com", "https://accounts.google.com").sign(t, img)
		other := hallmarktest.PushImage(t, w.reg, "other-image:signed-keyless", "other")
		w.keyless(t, "eve@example.com", "https://accounts.google.com").sign(t, other)
		e := example(t, w, "kyv-02-keyless-subject-issuer.yaml", nil, "ghcr.io/kyverno/test-verify-image", w.reg+"/test-verify-image")
		wantAllowed(t, decide(t, e, w.reg+"/test-verify-image:signed-keyless"))
		e = example(t, w, "kyv-02-keyless-subject-issuer.yaml", nil, "ghcr.io/kyverno/test-verify-image", w.reg+"/other-image")
		wantDenied(t, decide(t, e, w.reg+"/other-image:signed-keyless"), "eve@example.com")
	})
}

// TestDocumentedPolicyControllerExamples: policy-controller's documented
// ClusterImagePolicies, rewritten for test images and keys, decide as its
// documentation says.
func TestDocumentedPolicyControllerExamples(t *testing.T) {
	w := newWorld(t)
	t.Run("keyless identities", func(t *testing.T) { // cip-03: a GitHub Actions workflow on main
		const wf = "https://github.com/sigstore/policy-controller/.github/workflows/policy-tester-examples.yml@refs/heads/main"
		good := hallmarktest.PushImage(t, w.reg, "example:good", "good")
		w.keyless(t, wf, "https://token.actions.githubusercontent.com").sign(t, good)
		fork := hallmarktest.PushImage(t, w.reg, "example:fork", "fork")
		w.keyless(t, strings.Replace(wf, "sigstore", "attacker", 1), "https://token.actions.githubusercontent.com").sign(t, fork)
		e := example(t, w, "cip-03-keyless-identities.yaml", nil)
		wantAllowed(t, decide(t, e, good.String()))
		wantDenied(t, decide(t, e, fork.String()), "image-is-signed-by-github-actions", "attacker")
	})
	t.Run("key attestation cue", func(t *testing.T) { // cip-02: a signed SPDX SBOM, logged
		k := w.logged(t)
		withSBOM := hallmarktest.PushImage(t, w.reg, "sbom:yes", "yes")
		without := hallmarktest.PushImage(t, w.reg, "sbom:no", "no")
		k.sign(t, without)
		k.attest(t, withSBOM, "https://spdx.dev/Document", `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"app","dataLicense":"CC0-1.0","documentNamespace":"https://example.com/app","creationInfo":{"created":"2026-11-30T00:00:00Z","creators":["Tool: test"]}}`, verify.FormatBundle)
		e := example(t, w, "cip-02-key-attestation-cue.yaml", k)
		wantAllowed(t, decide(t, e, withSBOM.String()))
		wantDenied(t, decide(t, e, without.String()), "must-have-spdxjson", "no attestations found")
	})
	t.Run("static fail", func(t *testing.T) { // cip-06: **demo** is refused without looking
		e := example(t, w, "cip-06-static-fail.yaml", nil)
		wantDenied(t, decide(t, e, w.reg+"/demo/app@sha256:"+strings.Repeat("d", 64)), "static fail")
		wantAllowed(t, decide(t, e, w.reg+"/prod/app@sha256:"+strings.Repeat("d", 64))) // matches no policy
	})
	t.Run("warn", func(t *testing.T) { // cip-11: keyless, warn mode
		signed := hallmarktest.PushImage(t, w.reg, "demo:signed", "signed")
		w.keyless(t, "https://kubernetes.io/namespaces/default/serviceaccounts/default", "https://kubernetes.default.svc.cluster.local").sign(t, signed)
		unsigned := hallmarktest.PushImage(t, w.reg, "demo:unsigned", "unsigned")
		e := example(t, w, "cip-11-warn-e2e.yaml", nil)
		if d := decide(t, e, signed.String()); !d.Allowed || len(d.Warnings) != 0 {
			t.Errorf("signed: allowed %v warnings %q", d.Allowed, d.Warnings)
		}
		d := decide(t, e, unsigned.String())
		wantAllowed(t, d)
		if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "no signatures found") {
			t.Errorf("unsigned in warn mode: warnings %q", d.Warnings)
		}
	})
	t.Run("keyless attestation rego", func(t *testing.T) { // cip-09: a custom predicate checked by Rego
		sa := w.keyless(t, "https://kubernetes.io/namespaces/default/serviceaccounts/default", "https://kubernetes.default.svc")
		good := hallmarktest.PushImage(t, w.reg, "demo:att-good", "att-good")
		bad := hallmarktest.PushImage(t, w.reg, "demo:att-bad", "att-bad")
		const custom = "https://cosign.sigstore.dev/attestation/v1"
		sa.attest(t, good, custom, `{"Data":"foobar e2e test","Timestamp":"2026-11-30T00:00:00Z"}`, verify.FormatLegacy)
		sa.attest(t, bad, custom, `{"Data":"something else","Timestamp":"2026-11-30T00:00:00Z"}`, verify.FormatBundle)
		e := example(t, w, "cip-09-keyless-attestation-rego-e2e.yaml", nil)
		wantAllowed(t, decide(t, e, good.String()))
		wantDenied(t, decide(t, e, bad.String()), "custom-match-predicate", "isCompliant")
	})
}

// TestSpecPolicy: a ClusterImagePolicy's spec.policy judges what the
// authorities that passed found: the documented typemeta example (cip-05:
// only Pods), and two signers required through authorityMatches (as the
// documented cip-12 does with CUE, and in Rego).
func TestSpecPolicy(t *testing.T) {
	w := newWorld(t)
	t.Run("typemeta", func(t *testing.T) {
		e := example(t, w, "cip-05-static-pass-cip-policy-typemeta.yaml", nil, "ghcr.io/sigstore", w.reg)
		img := w.reg + "/timestamp-server@sha256:" + strings.Repeat("f", 64)
		for kind, allowed := range map[string]bool{"Pod": true, "Deployment": false} {
			obj := fmt.Sprintf(`{"apiVersion":"v1","kind":%q,"metadata":{"name":"x"},"spec":{}}`, kind)
			d := e.Decide(t.Context(), admit.Request{Kind: kind, Object: []byte(obj), Images: []admit.Image{{Path: "/x", Ref: img}}})
			if d.Allowed != allowed {
				t.Errorf("%s: allowed %v (%v)", kind, d.Allowed, d.Denials)
			}
			if !allowed && !strings.Contains(strings.Join(d.Denials, ""), "spec.policy") {
				t.Errorf("%s: denial %q does not name spec.policy", kind, d.Denials)
			}
		}
	})
	a, b := newSigner(t), newSigner(t)
	one := hallmarktest.PushImage(t, w.reg, "two:one", "one")
	both := hallmarktest.PushImage(t, w.reg, "two:both", "both")
	a.sign(t, one)
	a.sign(t, both)
	b.sign(t, both)
	for lang, pol := range map[string]string{
		"cue": `
      package sigstore
      import "list"
      authorityMatches: {
        first!: signatures: list.MinItems(1)
        second!: signatures: list.MinItems(1)
      }`,
		"rego": `
      package sigstore
      isCompliant[response] {
        n := count({name | input.authorityMatches[name].signatures[_]})
        response := {"result": n >= 2, "error": sprintf("%d of 2 signers", [n]), "warning": ""}
      }`,
	} {
		t.Run("two signers, "+lang, func(t *testing.T) {
			doc := fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: two-signers}
spec:
  images: [{glob: "%s/two*"}]
  authorities:
  - name: first
    key: {data: %q}
  - name: second
    key: {data: %q}
  policy:
    type: %s
    data: |%s
`, w.reg, a.pem(""), b.pem(""), lang, pol)
			ps, err := imagepolicy.Parse("p.yaml", []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			e, err := admit.New(admit.Config{Policies: ps})
			if err != nil {
				t.Fatal(err)
			}
			wantAllowed(t, decide(t, e, both.String()))
			wantDenied(t, decide(t, e, one.String()), "spec.policy")
		})
	}
}

// TestDistinctSigners: N of M counts people, not authorities: one
// signature that satisfies two keyless authorities is one signer.
func TestDistinctSigners(t *testing.T) {
	w := newWorld(t)
	const issuer = "https://issuer.example"
	alice := hallmarktest.PushImage(t, w.reg, "n:alice", "alice")
	w.keyless(t, "alice@corp.example", issuer).sign(t, alice)
	both := hallmarktest.PushImage(t, w.reg, "n:both", "both")
	w.keyless(t, "alice@corp.example", issuer).sign(t, both)
	w.keyless(t, "bob@corp.example", issuer).sign(t, both)
	doc := fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: two, annotations: {hallmark.dev/count: "2"}}
spec:
  images: [{glob: "%s/n*"}]
  authorities:
  - name: anyone-at-corp
    keyless: {identities: [{issuer: %q, subjectRegExp: '@corp\.example$'}]}
  - name: alice
    keyless: {identities: [{issuer: %q, subject: alice@corp.example}]}
`, w.reg, issuer, issuer)
	ps, err := imagepolicy.Parse("p.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	e, err := admit.New(admit.Config{Policies: ps, TrustRoots: map[string]*trust.Material{"": w.trust}})
	if err != nil {
		t.Fatal(err)
	}
	wantDenied(t, decide(t, e, alice.String()), "2 authorities passed, but on signatures of 1 distinct signer")
	wantAllowed(t, decide(t, e, both.String()))
}
