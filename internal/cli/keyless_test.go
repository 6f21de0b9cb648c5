package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/internal/hallmarktest/sigstoretest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/oci"
)

// TestKeylessVerifyCommands: keyless signatures in every form, verified
// from the command line under a trusted root: a bundle referrer and a
// legacy .sig layer on an image, and a blob bundle; with the identity
// printed as cosign prints it, and the wrong identity refused.
func TestKeylessVerifyCommands(t *testing.T) {
	t.Parallel()
	s := sigstoretest.New(t)
	dir := t.TempDir()
	root := s.WriteTrustedRoot(t, dir)
	const sub, iss = "ci@hallmark.test", "https://oidc.test.local"
	sg := s.Issue(t, sigstoretest.CertOptions{Subject: sub, Issuer: iss, LegacyIssuer: true,
		Extensions: cosign.CertExtensions{GithubWorkflowRepository: "org/repo", GithubWorkflowRef: "refs/heads/main"}})

	reg := hallmarktest.EmbeddedRegistry(t, "")
	c, _ := oci.New()
	bundled := hallmarktest.PushImage(t, reg.Host, "keyless-bundle:v1", "kb")
	raw, err := cosign.MarshalBundle(s.ImageBundle(t, sg, bundled.DigestStr(), map[string]any{"env": "prod"}, sigstoretest.Evidence{}))
	if err != nil {
		t.Fatal(err)
	}
	writeBundle(t, c, bundled, raw, cosign.SignPredicateType)
	legacy := hallmarktest.PushImage(t, reg.Host, "keyless-legacy:v1", "kl")
	payload, ann := s.LegacySignature(t, sg, legacy.Context().Name(), legacy.DigestStr(), nil, sigstoretest.Evidence{Timestamp: true})
	if err := c.AppendLegacySignature(t.Context(), legacy, payload, ann); err != nil {
		t.Fatal(err)
	}
	keyless := []string{"--certificate-identity", sub, "--certificate-oidc-issuer", iss, "--trusted-root", root}

	r := mustHM(t, 0, nil, append(append([]string{"verify"}, keyless...), "-a", "env=prod", bundled.String())...)
	wantContains(t, r.stderr, "The code-signing certificate was verified using trusted certificate authority certificates",
		`Proven identity: subject "ci@hallmark.test", issuer "https://oidc.test.local"`, "Z per the transparency log")
	var out []cosign.SimpleSigning
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 || out[0].Optional["env"] != "prod" {
		t.Fatalf("bundle output: %v %s", err, r.stdout)
	}

	r = mustHM(t, 0, nil, append(append([]string{"verify"}, keyless...), legacy.String())...)
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("legacy output: %v %s", err, r.stdout)
	}
	opt := out[0].Optional
	for k, want := range map[string]string{
		"Subject": sub, "Issuer": iss, "1.3.6.1.4.1.57264.1.1": iss,
		"githubWorkflowRepository": "org/repo", "1.3.6.1.4.1.57264.1.5": "org/repo", "githubWorkflowRef": "refs/heads/main",
	} {
		if opt[k] != want {
			t.Errorf("optional[%q] = %v, want %q", k, opt[k], want)
		}
	}
	if b, ok := opt["Bundle"].(map[string]any); !ok || b["SignedEntryTimestamp"] == nil || b["Payload"] == nil {
		t.Errorf("optional.Bundle: %v", opt["Bundle"])
	}
	if ts, ok := opt["RFC3161Timestamp"].(map[string]any); !ok || ts["SignedRFC3161Timestamp"] == nil {
		t.Errorf("optional.RFC3161Timestamp: %v", opt["RFC3161Timestamp"])
	}

	// The same images for someone else, or another issuer: refused.
	r = mustHM(t, exitNoMatchingSig, nil, "verify", "--certificate-identity", "eve@hallmark.test", "--certificate-oidc-issuer", iss, "--trusted-root", root, bundled.String())
	wantContains(t, r.stderr, "identity", "eve@hallmark.test", sub)
	r = mustHM(t, exitNoMatchingSig, nil, "verify", "--certificate-identity", sub, "--certificate-oidc-issuer", "https://evil.test", "--trusted-root", root, legacy.String())
	wantContains(t, r.stderr, "OIDC issuer", "https://evil.test")
	// An unanchored regexp is accepted with a warning.
	r = mustHM(t, 0, nil, "verify", "--certificate-identity-regexp", "hallmark.test", "--certificate-oidc-issuer", iss, "--trusted-root", root, bundled.String())
	wantContains(t, r.stderr, "WARNING: --certificate-identity-regexp hallmark.test is not anchored", "matches anywhere")
	r = mustHM(t, 0, nil, "verify", "--certificate-identity-regexp", "^"+regexp.QuoteMeta(sub), "--certificate-oidc-issuer", iss, "--trusted-root", root, bundled.String())
	wantContains(t, r.stderr, "WARNING: --certificate-identity-regexp ^"+regexp.QuoteMeta(sub)+" is not anchored at both ends: it matches any value that begins")

	// A key-signed image under keyless verification: exit 13.
	key, _ := shared(t)
	keyed := hallmarktest.PushImage(t, reg.Host, "keyed:v1", "keyed")
	mustHM(t, 0, pw, "sign", "--key", key, keyed.String())
	r = mustHM(t, exitNoCertificate, nil, append(append([]string{"verify"}, keyless...), keyed.String())...)
	wantContains(t, r.stderr, "no certificate")

	// A blob bundle, by file and by digest.
	blob := writeFile(t, filepath.Join(dir, "artifact"), "keyless blob")
	bundlePath := filepath.Join(dir, "artifact.bundle")
	braw, _ := cosign.MarshalBundle(s.BlobBundle(t, sg, []byte("keyless blob"), sigstoretest.Evidence{}))
	if err := os.WriteFile(bundlePath, braw, 0o600); err != nil {
		t.Fatal(err)
	}
	r = mustHM(t, 0, nil, append(append([]string{"verify-blob", "--bundle", bundlePath}, keyless...), blob)...)
	wantContains(t, r.stderr, "Verified OK")
	other := writeFile(t, filepath.Join(dir, "other"), "other blob")
	mustHM(t, exitNoMatchingSig, nil, append(append([]string{"verify-blob", "--bundle", bundlePath}, keyless...), other)...)
}

// TestVerifyTimeout: a registry that answers one byte every few seconds
// holds verify only until --timeout, and the failure says so (exit 14).
func TestVerifyTimeout(t *testing.T) {
	t.Parallel()
	reg := hallmarktest.EmbeddedRegistry(t, "")
	key, pub := shared(t)
	img := hallmarktest.PushImage(t, reg.Host, "slow:v1", "slow")
	mustHM(t, 0, pw, "sign", "--key", key, img.String())
	slow := hallmarktest.DripRegistry(t, reg.Host, "/manifests/sha256-", 2*time.Second)
	start := time.Now()
	r := mustHM(t, exitRegistryFailure, nil, "verify", "--key", pub, "--insecure-ignore-tlog", "--timeout", "1s",
		strings.Replace(img.String(), reg.Host, slow, 1))
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("verify took %s with --timeout 1s", d)
	}
	wantContains(t, r.stderr, "--timeout 1s")
}
