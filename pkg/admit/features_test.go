package admit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/pkg/admit"
	"hallmark.dev/hallmark/pkg/imagepolicy"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/verify"
)

type secrets map[string]string

func (s secrets) PublicKey(_ context.Context, ref imagepolicy.SecretRef) (string, error) {
	if k, ok := s[ref.Namespace+"/"+ref.Name]; ok {
		return k, nil
	}
	return "", fmt.Errorf("secret %s/%s not found", ref.Namespace, ref.Name)
}

// TestAuthorityOptions: a key from a Secret, signatures in another
// repository (source), one storage format only (signatureFormat), a trust
// root named by an authority, and workload kinds (match).
func TestAuthorityOptions(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	d := hallmarktest.PushImage(t, reg.Host, "app:v1", "app")
	s := newSigner(t)
	s.sign(t, d, verify.FormatLegacy)
	base := func(authority string) string {
		return fmt.Sprintf("apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: p}\nspec:\n  images: [{glob: %q}]\n  authorities:\n  - name: a\n%s", reg.Host+"/**", authority)
	}
	t.Run("key from a secret", func(t *testing.T) {
		doc := base("    key: {secretRef: {name: release, namespace: hallmark-system}}\n")
		e := engine(t, doc, func(c *admit.Config) { c.Secrets = secrets{"hallmark-system/release": s.pem("")} })
		wantAllowed(t, decide(t, e, d.String()))
		ps, _ := imagepolicy.Parse("p.yaml", []byte(doc))
		if _, err := admit.New(admit.Config{Policies: ps}); err == nil || !strings.Contains(err.Error(), "needs a cluster") {
			t.Errorf("a secretRef without a cluster: %v", err)
		}
		if _, err := admit.New(admit.Config{Policies: ps, Secrets: secrets{}}); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("a missing secret: %v", err)
		}
	})
	t.Run("signatureFormat", func(t *testing.T) {
		key := fmt.Sprintf("    key: {data: %q}\n", s.pem(""))
		wantAllowed(t, decide(t, engine(t, base(key+"    signatureFormat: legacy\n")), d.String()))
		wantDenied(t, decide(t, engine(t, base(key+"    signatureFormat: bundle\n")), d.String()), "signatureFormat: want bundle")
	})
	t.Run("source: signatures in another repository", func(t *testing.T) {
		other := hallmarktest.PushImage(t, reg.Host, "app:v2", "elsewhere")
		c, _ := oci.New(oci.WithSignatureRepository(reg.Host + "/signatures"))
		_, desc, _ := c.Resolve(t.Context(), other)
		if _, err := s.s.SignImage(t.Context(), c, other, desc, verify.FormatLegacy, nil); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("    key: {data: %q}\n", s.pem(""))
		wantDenied(t, decide(t, engine(t, base(key)), other.String()), "no signatures found")
		wantAllowed(t, decide(t, engine(t, base(key+"    source: [{oci: "+reg.Host+"/signatures}]\n")), other.String()))
	})
	t.Run("trust roots", func(t *testing.T) {
		doc := base("    keyless: {identities: [{issuer: https://issuer.example, subject: a@example.com}], trustRootRef: corp}\n")
		ps, _ := imagepolicy.Parse("p.yaml", []byte(doc))
		if _, err := admit.New(admit.Config{Policies: ps}); err == nil || !strings.Contains(err.Error(), `trust root "corp" is not one the server was given`) {
			t.Errorf("an unknown trust root: %v", err)
		}
	})
	t.Run("match kinds and labels", func(t *testing.T) {
		doc := strings.Replace(base("    static: {action: fail}\n"), "spec:\n", "spec:\n  match: [{group: apps, version: v1, resource: deployments, selector: {matchLabels: {tier: prod}}}]\n", 1)
		e := engine(t, doc, func(c *admit.Config) { c.NoMatch = admit.NoMatchAllow })
		req := func(kind string, labels map[string]string) *admit.Decision {
			return e.Decide(t.Context(), admit.Request{Kind: kind, Labels: labels, Images: []admit.Image{{Path: "/x", Ref: d.String()}}})
		}
		if req("Deployment", map[string]string{"tier": "prod"}).Allowed {
			t.Error("a prod Deployment passed a static fail")
		}
		if !req("Deployment", map[string]string{"tier": "dev"}).Allowed || !req("Pod", map[string]string{"tier": "prod"}).Allowed {
			t.Error("the policy applied outside its match")
		}
	})
}

// TestCacheBound: the cache keeps at most CacheSize outcomes, least
// recently used out first.
func TestCacheBound(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	s := newSigner(t)
	e := engine(t, cipKey("p", reg.Host+"/**", s), func(c *admit.Config) { c.CacheSize = 3 })
	var imgs []string
	for i := range 5 {
		d := hallmarktest.PushImage(t, reg.Host, fmt.Sprintf("app:%d", i), fmt.Sprint(i))
		s.sign(t, d, verify.FormatBundle)
		imgs = append(imgs, d.String())
	}
	for _, im := range imgs {
		decide(t, e, im)
	}
	if n := e.CacheLen(); n != 3 {
		t.Fatalf("%d cached; want 3", n)
	}
	before := e.Stats().Verifications.Load()
	decide(t, e, imgs[4]) // recent: cached
	if e.Stats().Verifications.Load() != before {
		t.Error("a recent outcome was not kept")
	}
	decide(t, e, imgs[0]) // evicted: verified again
	if e.Stats().Verifications.Load() != before+1 {
		t.Error("the oldest outcome was not evicted")
	}
}

// TestVerifyDigest: Kyverno's verifyDigest without mutateDigest refuses a
// tag; with mutateDigest the tag is pinned instead.
func TestVerifyDigest(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	d := hallmarktest.PushImage(t, reg.Host, "app:v1", "app")
	s := newSigner(t)
	s.sign(t, d)
	doc := func(mutate bool) string {
		return fmt.Sprintf(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: k}
spec:
  validationFailureAction: Enforce
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["%s/*"]
      mutateDigest: %v
      attestors:
      - entries:
        - keys: {publicKeys: %q, rekor: {url: "https://rekor.invalid", ignoreTlog: true}}
`, reg.Host, mutate, s.pem(""))
	}
	wantDenied(t, decide(t, engine(t, doc(false)), reg.Host+"/app:v1"), "verifyDigest: want the image referenced by digest")
	wantAllowed(t, decide(t, engine(t, doc(false)), d.String()))
	if dec := decide(t, engine(t, doc(true)), reg.Host+"/app:v1"); !dec.Allowed || len(dec.Patches) != 1 {
		t.Errorf("mutateDigest: %+v", dec)
	}
}

// TestConditionVariables: a condition reading Kyverno's request, images or
// context variables is refused at load (read from the predicate it would
// compare nulls and hold).
func TestConditionVariables(t *testing.T) {
	s := newSigner(t)
	for _, v := range []string{"{{ request.object.metadata.labels.release }}", "{{ images.containers.app.tag }}", "{{ element.name }}"} {
		doc := fmt.Sprintf(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: k}
spec:
  validationFailureAction: Enforce
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["x/*"]
      attestations:
      - type: https://example.com/Build/v1
        attestors: [{entries: [{keys: {publicKeys: %q, rekor: {url: "https://rekor.invalid", ignoreTlog: true}}}]}]
        conditions:
        - all: [{key: "{{ buildDefinition.externalParameters.ref }}", operator: Equals, value: %q}]
`, s.pem(""), v)
		ps, err := imagepolicy.Parse("k.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admit.New(admit.Config{Policies: ps}); err == nil || !strings.Contains(err.Error(), "variables are not supported") {
			t.Errorf("%s: %v", v, err)
		}
	}
}

// TestBrokenPolicies: a duplicate name and a policy with one bad pattern
// still deny what they name (with OnInvalid set, as the server does).
func TestBrokenPolicies(t *testing.T) {
	doc := func(name, glob, action string) string {
		return fmt.Sprintf("apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: %s}\nspec:\n  images: [{glob: %q}]\n  authorities: [{static: {action: %s}}]\n", name, glob, action)
	}
	a, _ := imagepolicy.Parse("a.yaml", []byte(doc("p", "reg.example/a/**", "pass")))
	b, _ := imagepolicy.Parse("b.yaml", []byte(doc("p", "reg.example/b/**", "pass")))
	bad, err := imagepolicy.Parse("c.yaml", []byte(strings.Replace(doc("q", "reg.example/c/**", "pass"), "authorities: [{static: {action: pass}}]", "authorities: [{name: k, key: {data: not-a-key}}]", 1)))
	if err != nil {
		t.Fatal(err)
	}
	var reported []string
	e, err := admit.New(admit.Config{Policies: append(append(a, b...), bad...), NoMatch: admit.NoMatchAllow,
		OnInvalid: func(p *imagepolicy.Policy, err error) { reported = append(reported, p.Name) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(reported) != 2 {
		t.Errorf("reported %q; want the duplicate and the bad key", reported)
	}
	img := func(repo string) string { return "reg.example/" + repo + "/app@sha256:" + strings.Repeat("a", 64) }
	wantAllowed(t, decide(t, e, img("a")))
	wantDenied(t, decide(t, e, img("b")), "defined twice")
	wantDenied(t, decide(t, e, img("c")), "did not load")
}
