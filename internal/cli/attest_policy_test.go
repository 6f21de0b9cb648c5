package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
)

func policyPath(t *testing.T, name string) string {
	p, err := filepath.Abs(filepath.Join("testdata", "policies", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAttestationPolicies judges verified attestations with Rego and CUE
// policies, and checks cosign v3.1.3 reaches the same verdict on the same
// files: a builder id required (Rego v0, Rego v1, CUE), no critical
// vulnerability (with the deny messages named), a policy that errors
// (never an allow), and a CUE policy that does not compile (bad usage).
func TestAttestationPolicies(t *testing.T) {
	co := newCosignPeer(t)
	reg := hallmarktest.EmbeddedRegistry(t, "")
	hmKey, hmPub := shared(t)
	slsa := hallmarktest.PushImage(t, reg.Host, "policy/slsa:v1", "slsa").String()
	vuln := hallmarktest.PushImage(t, reg.Host, "policy/vuln:v1", "vuln").String()
	mustHM(t, 0, pw, "attest", "--key", hmKey, "--type", "slsaprovenance1", "--predicate", predicatePath(t, "slsaprovenance1"), slsa)
	mustHM(t, 0, pw, "attest", "--key", hmKey, "--type", "vuln", "--predicate", predicatePath(t, "vuln"), vuln)

	cases := []struct {
		name, typ, img, policy string
		allowed                bool
		hmExit                 int
		hmSays                 []string
	}{
		{"builder required (Rego v0)", "slsaprovenance1", slsa, "builder.rego", true, 0, nil},
		{"another builder required (Rego v1)", "slsaprovenance1", slsa, "builder-v1.rego", false, exitNoMatchingSig,
			[]string{"builder-v1.rego", "data.signature.allow", "is not the release workflow"}},
		{"builder required (CUE)", "slsaprovenance1", slsa, "slsa.cue", true, 0, nil},
		{"another builder required (CUE)", "slsaprovenance1", slsa, "slsa-wrong.cue", false, exitNoMatchingSig, []string{"slsa-wrong.cue"}},
		{"no critical vulnerability", "vuln", vuln, "nocritical.rego", false, exitNoMatchingSig,
			[]string{"nocritical.rego", "critical vulnerability CVE-2026-0001"}},
		{"a policy that errors", "slsaprovenance1", slsa, "error.rego", false, exitNoMatchingSig, []string{"error.rego", "failed (not allowed)"}},
		{"a CUE policy that does not compile", "slsaprovenance1", slsa, "bad.cue", false, exitUsage, []string{"bad.cue", "does not compile"}},
	}
	// Two reports of one type, a clean one and a critical one: one denial
	// fails the image, for both tools (an old clean report must not outvote
	// a new one).
	both := hallmarktest.PushImage(t, reg.Host, "policy/two-reports:v1", "two").String()
	clean := filepath.Join(t.TempDir(), "clean.json")
	raw := mustRead(t, predicatePath(t, "vuln"))
	writeFile(t, clean, strings.Replace(raw, `"severity":"Critical"`, `"severity":"Medium"`, 1))
	mustHM(t, 0, pw, "attest", "--key", hmKey, "--type", "vuln", "--predicate", clean, both)
	mustHM(t, 0, pw, "attest", "--key", hmKey, "--type", "vuln", "--predicate", predicatePath(t, "vuln"), both)
	r := mustHM(t, exitNoMatchingSig, nil, "verify-attestation", "--key", hmPub, "--insecure-ignore-tlog", "--type", "vuln",
		"--policy", policyPath(t, "nocritical.rego"), both)
	wantContains(t, r.stderr, "1 of 2 attestation(s)", "CVE-2026-0001")
	co.mustFail("verify-attestation", "--key", hmPub, "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", co.root,
		"--type", "vuln", "--policy", policyPath(t, "nocritical.rego"), both)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pol := policyPath(t, c.policy)
			r := mustHM(t, c.hmExit, nil, "verify-attestation", "--key", hmPub, "--insecure-ignore-tlog", "--type", c.typ, "--policy", pol, c.img)
			wantContains(t, r.stderr, c.hmSays...)
			args := []string{"verify-attestation", "--key", hmPub, "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", co.root,
				"--type", c.typ, "--policy", pol, c.img}
			if c.allowed {
				co.must(args...)
			} else {
				co.mustFail(args...)
			}
		})
	}
}

// TestAttestTooLargeToReadBack: a predicate whose attestation would be
// larger than a verifier reads is refused before anyone signs in (10 MB of
// control bytes become a 60 MB statement once escaped as JSON text).
func TestAttestTooLargeToReadBack(t *testing.T) {
	hmKey, _ := shared(t)
	pred := filepath.Join(t.TempDir(), "binary.bin")
	writeFile(t, pred, strings.Repeat("\x01", 10<<20))
	r := mustHM(t, exitUsage, pw, "attest", "--key", hmKey, "--type", "custom", "--predicate", pred, "127.0.0.1:1/never/contacted:v1")
	wantContains(t, r.stderr, "would be about", "over the 64 MB a verifier reads")
}
