package imagepolicy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocumentedExamplesLoad: every documented example loads, or is
// refused with an error naming the field and why.
func TestDocumentedExamplesLoad(t *testing.T) {
	refused := map[string]string{
		"cip-01-key-kms.yaml":                   "key.kms: KMS keys are not supported",
		"cip-07-static-pass-docs-fragment.yaml": `apiVersion "" kind ""`,
		"cip-10-warn-docs.yaml":                 "keyless.identities: at least one identity",
		"cip-12-cip-level-policy-docs.yaml":     "spec.authorities[2].keyless.identities: at least one identity",
		"kyv-04-attestors-count.yaml":           ".context: not supported with verifyImages",
	}
	files, _ := filepath.Glob("testdata/examples/*.yaml")
	if len(files) < 20 {
		t.Fatalf("%d examples", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := Parse(f, b)
		base := filepath.Base(f)
		if want, ok := refused[base]; ok {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %v; want one saying %q", base, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		for _, p := range ps {
			if !strings.Contains(p.Name, "/") || len(p.Requirements) == 0 {
				t.Errorf("%s: policy %+v", base, p)
			}
		}
	}
}

// TestSemantics: each language's rules as its project defines them.
func TestSemantics(t *testing.T) {
	load := func(doc string) *Policy {
		t.Helper()
		ps, err := Parse("t.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return ps[0]
	}
	cip := load(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: p}
spec:
  images: [{glob: "ghcr.io/org/*"}]
  authorities:
  - key: {data: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra/N9sbqOPZrfM5/KAQN0/KjHcorm/J5yctVd7iEcnessRQjU917hmKO6JWVGHpDguIyakZA==\n-----END PUBLIC KEY-----"}
  - keyless:
      identities: [{issuer: "https://issuer.example", subject: "a@example.com"}]
    ctlog: {url: "https://rekor.example"}
`)
	if r := cip.Requirements[0]; r.Needed() != 1 || len(r.Authorities) != 2 {
		t.Errorf("authorities of a ClusterImagePolicy are any-of: needed %d of %d", r.Needed(), len(r.Authorities))
	}
	if a := cip.Requirements[0].Authorities; !a[0].IgnoreTlog || a[1].IgnoreTlog {
		t.Errorf("a key authority without ctlog skips the log, keyless never: %v %v", a[0].IgnoreTlog, a[1].IgnoreTlog)
	}
	if !cip.MutateDigest || cip.Mode != Enforce {
		t.Errorf("defaults: mutate %v mode %s", cip.MutateDigest, cip.Mode)
	}
	for image, want := range map[string]bool{
		"ghcr.io/org/app:v1":              true,
		"ghcr.io/org/app@sha256:" + hex64: true,
		"ghcr.io/org/team/app:v1":         false, // * stays in its segment
		"ghcr.io/other/app:v1":            false,
	} {
		if got := cip.Matches(image, "default", "Pod", nil); got != want {
			t.Errorf("glob ghcr.io/org/* on %s: %v, want %v", image, got, want)
		}
	}
	kyv := load(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: k}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["ghcr.io/org/*"]
      skipImageReferences: ["ghcr.io/org/trusted/*"]
      attestors:
      - entries:
        - keyless: {subject: "*@example.com", issuer: "https://issuer.example", rekor: {url: "https://rekor.example"}}
`)
	if kyv.Mode != Warn || kyv.MutateDigest {
		t.Errorf("Kyverno's default action is Audit (warn), which never mutates: mode %s mutate %v", kyv.Mode, kyv.MutateDigest)
	}
	for image, want := range map[string]bool{
		"ghcr.io/org/team/app:v1":    true, // * crosses /
		"ghcr.io/org/trusted/app:v1": false,
		"nginx":                      false,
	} {
		if got := kyv.Matches(image, "default", "Deployment", nil); got != want {
			t.Errorf("Kyverno ghcr.io/org/* on %s: %v, want %v", image, got, want)
		}
	}
	id := kyv.Requirements[0].Authorities[0].Keyless.Identities[0]
	if id.Subject != "" || id.SubjectRegExp != `^.*@example\.com$` {
		t.Errorf("wildcard subject as %+v", id)
	}
	// Docker Hub images in both styles.
	hub := load(strings.Replace(strings.Replace(kyvDoc, "IMAGES", `["nginx*"]`, 1), "KIND", "ClusterPolicy", 1))
	if !hub.Matches("nginx:1.27", "default", "Pod", nil) {
		t.Error("Kyverno nginx* does not match nginx as written")
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

const kyvDoc = `apiVersion: kyverno.io/v1
kind: KIND
metadata: {name: k, namespace: team}
spec:
  validationFailureAction: Enforce
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: IMAGES
      attestors:
      - entries:
        - keys:
            publicKeys: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra/N9sbqOPZrfM5/KAQN0/KjHcorm/J5yctVd7iEcnessRQjU917hmKO6JWVGHpDguIyakZA==\n-----END PUBLIC KEY-----"
            rekor: {url: "https://rekor.example", ignoreTlog: true}
`

// TestStrict: unknown fields, bad values and missing fields are refused
// naming the document and field.
func TestStrict(t *testing.T) {
	for name, c := range map[string]struct{ doc, want string }{
		"unknown field": {`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: p}
spec: {images: [{glob: "*"}], authorities: [{static: {action: pass}}], imagez: []}`, `unknown field "imagez"`},
		"bad mode": {`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: p}
spec: {mode: audit, images: [{glob: "*"}], authorities: [{static: {action: pass}}]}`, `spec.mode "audit"`},
		"two kinds of authority": {`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: p}
spec: {images: [{glob: "*"}], authorities: [{static: {action: pass}, key: {data: x}}]}`, "exactly one of key, keyless or static"},
		"no authorities": {`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: p}
spec: {images: [{glob: "*"}]}`, "no authorities"},
		"static with attestations": {`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: p}
spec: {images: [{glob: "*"}], authorities: [{static: {action: pass}, attestations: [{name: a, predicateType: vuln}]}]}`, "static authority takes no attestations"},
		"count above entries":   {strings.Replace(strings.Replace(kyvDoc, "IMAGES", `["x/*"]`, 1), "- entries:", "- count: 3\n        entries:", 1), "count 3 with 1 entries"},
		"mutateDigest in Audit": {strings.Replace(strings.Replace(strings.Replace(kyvDoc, "IMAGES", `["x/*"]`, 1), "Enforce", "Audit", 1), "attestors:", "mutateDigest: true\n      attestors:", 1), "mutateDigest must be false"},
		"not a policy":          {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", `kind "ConfigMap" (v1) is not a policy`},
	} {
		k := strings.ReplaceAll(c.doc, "KIND", "ClusterPolicy")
		_, err := Parse("p.yaml", []byte(k))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want %q", name, err, c.want)
		}
	}
}

// TestConvert: a Kyverno policy converts to ClusterImagePolicies and back
// to an equivalent policy; what cannot be said is an error.
func TestConvert(t *testing.T) {
	ps, err := Parse("k.yaml", []byte(strings.Replace(strings.Replace(kyvDoc, "IMAGES", `["ghcr.io/org/*"]`, 1), "KIND", "ClusterPolicy", 1)))
	if err != nil {
		t.Fatal(err)
	}
	k := ps[0]
	cips, notes, err := ToClusterImagePolicies(k, "converted")
	if err != nil {
		t.Fatal(err)
	}
	if len(cips) != 1 || cips[0].Spec.Images[0].Glob != "ghcr.io/org/**" || len(notes) == 0 {
		t.Fatalf("converted %+v notes %q", cips, notes)
	}
	if cips[0].Spec.Authorities[0].CTLog != nil {
		t.Error("ignoreTlog was lost: a key authority with ctlog checks the log")
	}
	back, err := FromClusterImagePolicy(cips[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{"ghcr.io/org/a/b:v1", "ghcr.io/org/a:v1", "ghcr.io/other/a:v1"} {
		if back.Matches(img, "team", "Pod", nil) != k.Matches(img, "team", "Pod", nil) {
			t.Errorf("%s: the converted policy matches differently", img)
		}
	}
	kb, _, err := ToKyverno(back, "again")
	if err != nil {
		t.Fatal(err)
	}
	again, err := FromKyverno(kb)
	if err != nil || len(again) != 1 || again[0].Requirements[0].Authorities[0].Key.PEM != k.Requirements[0].Authorities[0].Key.PEM {
		t.Fatalf("round trip: %v %+v", err, again)
	}
	// A Kyverno Policy is namespaced: no ClusterImagePolicy says that.
	ns, _ := Parse("n.yaml", []byte(strings.Replace(strings.Replace(kyvDoc, "IMAGES", `["x/*"]`, 1), "KIND", "Policy", 1)))
	if _, _, err := ToClusterImagePolicies(ns[0], "x"); err == nil || !strings.Contains(err.Error(), "namespaced") {
		t.Errorf("namespaced policy converted: %v", err)
	}
	if !ns[0].Matches("x/app", "team", "Pod", nil) || ns[0].Matches("x/app", "other", "Pod", nil) {
		t.Error("a Kyverno Policy applies in its own namespace only")
	}
}

// TestImageForms: a pattern naming a tag still matches once the tag is
// pinned (repo:tag@digest), and other spellings of a registry are the
// registry.
func TestImageForms(t *testing.T) {
	load := func(doc string) *Policy {
		t.Helper()
		ps, err := Parse("t.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return ps[0]
	}
	kyv := load(strings.Replace(strings.Replace(kyvDoc, "IMAGES", `["ghcr.io/org/app:v1", "ghcr.io/org/*:prod", "docker.io/nginx*"]`, 1), "KIND", "ClusterPolicy", 1))
	cip := load(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: p}
spec: {images: [{glob: "ghcr.io/org/app:v1"}, {glob: "ghcr.io/org/**"}, {glob: "nginx"}], authorities: [{static: {action: pass}}]}
`)
	pinned := "@sha256:" + hex64
	for _, img := range []string{
		"ghcr.io/org/app:v1" + pinned, "ghcr.io/org/team/app:prod" + pinned,
		"GHCR.IO/org/app:v1", "ghcr.io:443/org/app:v1", "ghcr.io./org/app:v1" + pinned,
		"registry-1.docker.io/library/nginx", "docker.io/nginx" + pinned,
	} {
		if !kyv.Matches(img, "team", "Pod", nil) {
			t.Errorf("Kyverno policy does not match %s", img)
		}
		if strings.Contains(img, "prod") {
			continue // a ClusterImagePolicy * stays in its segment
		}
		if !cip.Matches(img, "team", "Pod", nil) {
			t.Errorf("ClusterImagePolicy does not match %s", img)
		}
	}
	if kyv.Matches("ghcr.io/org/app:v2"+pinned, "team", "Pod", nil) {
		t.Error("a pinned v2 matched the v1 pattern")
	}
}

// TestDocumentSeparators: a "---" line with a comment still separates
// documents (a policy after it is not merged away).
func TestDocumentSeparators(t *testing.T) {
	doc := "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: a}\nspec: {images: [{glob: \"a/**\"}], authorities: [{static: {action: pass}}]}\n" +
		"--- # the strict one\n" +
		"apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: b}\nspec: {images: [{glob: \"b/**\"}], authorities: [{static: {action: fail}}]}\n---\n# only a comment\n"
	ps, err := Parse("two.yaml", []byte(doc))
	if err != nil || len(ps) != 2 || ps[1].Name != "ClusterImagePolicy/b" {
		t.Fatalf("%v %d policies", err, len(ps))
	}
}

// TestKyvernoNamespaces: match and exclude namespaces, and the failure
// action overridden per namespace.
func TestKyvernoNamespaces(t *testing.T) {
	doc := strings.NewReplacer("IMAGES", `["x/*"]`, "KIND", "ClusterPolicy",
		"validationFailureAction: Enforce", "validationFailureAction: Audit\n  validationFailureActionOverrides: [{action: Enforce, namespaces: [prod, \"prod-*\"]}]",
		"match: {any: [{resources: {kinds: [Pod]}}]}", "match: {any: [{resources: {kinds: [Pod], namespaces: [\"prod*\", dev]}}]}\n    exclude: {any: [{resources: {namespaces: [prod-legacy]}}]}").Replace(kyvDoc)
	ps, err := Parse("k.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	for ns, want := range map[string]bool{"prod": true, "prod-eu": true, "dev": true, "prod-legacy": false, "kube-system": false} {
		if got := p.Matches("x/app", ns, "Pod", nil); got != want {
			t.Errorf("namespace %s: matches %v, want %v", ns, got, want)
		}
	}
	for ns, want := range map[string]Mode{"prod": Enforce, "prod-eu": Enforce, "dev": Warn} {
		if got := p.ModeIn(ns); got != want {
			t.Errorf("mode in %s: %s, want %s", ns, got, want)
		}
	}
	for name, c := range map[string]struct{ from, to, want string }{
		"validate.deny":        {"attestors:", "validate: {deny: {conditions: {any: []}}}\n      attestors:", ".validate: deny conditions"},
		"match by name":        {"kinds: [Pod]", "kinds: [Pod], names: [web]", "resources.names"},
		"exclude by subject":   {"match: {any: [{resources: {kinds: [Pod]}}]}", "match: {any: [{resources: {kinds: [Pod]}}]}\n    exclude: {any: [{subjects: [{kind: User, name: x}]}]}", "subjects"},
		"preconditions":        {"match: {any: [{resources: {kinds: [Pod]}}]}", "match: {any: [{resources: {kinds: [Pod]}}]}\n    preconditions: {all: []}", ".preconditions: not supported"},
		"registry credentials": {"attestors:", "imageRegistryCredentials: {secrets: [regcred]}\n      attestors:", "imageRegistryCredentials"},
	} {
		d := strings.NewReplacer("IMAGES", `["x/*"]`, "KIND", "ClusterPolicy").Replace(kyvDoc)
		d = strings.Replace(d, c.from, c.to, 1)
		if _, err := Parse("k.yaml", []byte(d)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error saying %q", name, err, c.want)
		}
	}
}

// TestConvertAllOf: a Kyverno set whose every entry must pass becomes one
// ClusterImagePolicy per entry (matching policies are ANDed, which
// policy-controller enforces too), not an annotation it would ignore.
func TestConvertAllOf(t *testing.T) {
	doc := strings.NewReplacer("IMAGES", `["x/*"]`, "KIND", "ClusterPolicy").Replace(kyvDoc) +
		"        - keyless: {subject: a@example.com, issuer: https://issuer.example, rekor: {url: https://rekor.example}}\n"
	ps, err := Parse("k.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	cips, _, err := ToClusterImagePolicies(ps[0], "both")
	if err != nil {
		t.Fatal(err)
	}
	if len(cips) != 2 || len(cips[0].Spec.Authorities) != 1 || cips[0].Metadata.Annotations[AnnotationCount] != "" {
		t.Fatalf("want two single-authority policies, got %d: %+v", len(cips), cips)
	}
}

// TestSkipIsNotWidened: a skip pattern naming a tag does not skip that tag
// pinned to another digest (the runtime pulls the digest), while an image
// pattern naming a tag still matches after pinning; patterns written with
// another spelling of a registry still match.
func TestSkipIsNotWidened(t *testing.T) {
	doc := strings.NewReplacer("IMAGES", `["reg.example/app*", "MyReg.example:443/team/*"]`, "KIND", "ClusterPolicy",
		"      attestors:", "      skipImageReferences: [\"reg.example/app:debug\"]\n      attestors:").Replace(kyvDoc)
	ps, err := Parse("k.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	if !p.Matches("reg.example/app:debug@sha256:"+hex64, "team", "Pod", nil) {
		t.Error("a pinned image is skipped because its tag names a skipped one")
	}
	if p.Matches("reg.example/app:debug", "team", "Pod", nil) {
		t.Error("the skipped tag itself is judged")
	}
	if !p.Matches("myreg.example/team/x:v1", "team", "Pod", nil) || !p.Matches("MyReg.example:443/team/x:v1", "team", "Pod", nil) {
		t.Error("a pattern written with :443 and capitals does not match its registry")
	}
	dupRules := strings.NewReplacer("IMAGES", `["x/*"]`, "KIND", "ClusterPolicy").Replace(kyvDoc)
	i := strings.Index(dupRules, "  - name: r")
	dupRules += dupRules[i:]
	if _, err := Parse("k.yaml", []byte(dupRules)); err == nil || !strings.Contains(err.Error(), `rule name "r" is used twice`) {
		t.Errorf("duplicate rule names: %v", err)
	}
	u := Unreadable([]byte(strings.NewReplacer("IMAGES", `["x/*"]`, "KIND", "ClusterPolicy", "validationFailureAction: Enforce", "validationFailureAction: Audit", "rekor:", "bogus: 1\n            rekor:").Replace(kyvDoc)), fmt.Errorf("broken"))
	if len(u) != 1 || u[0].Mode != Warn || u[0].Invalid == nil {
		t.Errorf("an unreadable Audit policy: %+v", u)
	}
}
