package cli

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
)

// predicateFiles are the test predicates by --type.
var predicateFiles = map[string]string{
	"custom":          "custom.txt",
	"slsaprovenance":  "slsa02.json",
	"slsaprovenance1": "slsa1.json",
	"spdxjson":        "spdx.json",
	"cyclonedx":       "cyclonedx.json",
	"vuln":            "vuln.json",
	"openvex":         "openvex.json",
	"link":            "link.json",
}

func predicatePath(t *testing.T, typ string) string {
	p, err := filepath.Abs(filepath.Join("testdata", "predicates", predicateFiles[typ]))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// envelopeStatement decodes the statement of an envelope line.
func envelopeStatement(t *testing.T, line string) map[string]any {
	t.Helper()
	var env struct {
		Payload     string `json:"payload"`
		PayloadType string `json:"payloadType"`
	}
	if err := json.Unmarshal([]byte(line), &env); err != nil {
		t.Fatalf("envelope line %q: %v", line, err)
	}
	raw, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestAttestationInterop attests with each tool and verifies with the
// other, for every predicate type, in both storage formats, and refuses the
// wrong type and the wrong key.
func TestAttestationInterop(t *testing.T) {
	co := newCosignPeer(t)
	reg := hallmarktest.EmbeddedRegistry(t, "")
	hmKey, hmPub := shared(t)
	co.must("generate-key-pair", "--output-key-prefix", "co")
	coKey, coPub := filepath.Join(co.dir, "co.key"), filepath.Join(co.dir, "co.pub")
	types := []string{"custom", "slsaprovenance", "slsaprovenance1", "spdxjson", "cyclonedx", "vuln", "openvex", "link"}
	formats := []struct {
		name             string
		hmArgs, coAttest []string
	}{
		{"bundle", nil, []string{"--signing-config", co.sc}},
		{"legacy", []string{"--new-bundle-format=false"}, []string{"--new-bundle-format=false", "--use-signing-config=false", "--tlog-upload=false"}},
	}
	for _, f := range formats {
		for _, typ := range types {
			pred := predicatePath(t, typ)
			t.Run(f.name+"/"+typ+"/hallmark attests, cosign verifies", func(t *testing.T) {
				img := hallmarktest.PushImage(t, reg.Host, "att/hm-"+f.name+"-"+typ+":v1", "hm"+f.name+typ).String()
				mustHM(t, 0, pw, append(append([]string{"attest", "--key", hmKey, "--type", typ, "--predicate", pred}, f.hmArgs...), img)...)
				out := co.must("verify-attestation", "--key", hmPub, "--type", typ, "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", co.root, img)
				wantContains(t, out, `"payloadType":"application/vnd.in-toto+json"`)
				co.mustFail("verify-attestation", "--key", coPub, "--type", typ, "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", co.root, img)
			})
			t.Run(f.name+"/"+typ+"/cosign attests, hallmark verifies", func(t *testing.T) {
				img := hallmarktest.PushImage(t, reg.Host, "att/co-"+f.name+"-"+typ+":v1", "co"+f.name+typ).String()
				co.must(append(append([]string{"attest", "--key", coKey, "--type", typ, "--predicate", pred, "--allow-insecure-registry", "-y"}, f.coAttest...), img)...)
				r := mustHM(t, 0, nil, "verify-attestation", "--key", coPub, "--type", typ, "--insecure-ignore-tlog", img)
				lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
				if len(lines) != 1 {
					t.Fatalf("want one envelope line, got %d:\n%s", len(lines), r.stdout)
				}
				st := envelopeStatement(t, lines[0])
				subj := st["subject"].([]any)[0].(map[string]any)
				if repo, _, _ := strings.Cut(img, "@"); subj["name"] != repo {
					t.Errorf("subject name %v for %s", subj["name"], img)
				}
				mustHM(t, exitNoMatchingSig, nil, "verify-attestation", "--key", hmPub, "--type", typ, "--insecure-ignore-tlog", img)
				other := "vuln"
				if typ == "vuln" {
					other = "cyclonedx"
				}
				r = mustHM(t, exitNoMatchingSig, nil, "verify-attestation", "--key", coPub, "--type", other, "--insecure-ignore-tlog", img)
				wantContains(t, r.stderr, "found:")
			})
		}
	}
}

// TestBlobAttestationInterop: attest-blob with each tool, verify-blob-
// attestation with the other; another file, another type and another key
// are refused.
func TestBlobAttestationInterop(t *testing.T) {
	co := newCosignPeer(t)
	hmKey, hmPub := shared(t)
	co.must("generate-key-pair", "--output-key-prefix", "co")
	coKey, coPub := filepath.Join(co.dir, "co.key"), filepath.Join(co.dir, "co.pub")
	dir := t.TempDir()
	blob, otherBlob := filepath.Join(dir, "app.tar"), filepath.Join(dir, "other.tar")
	writeFile(t, blob, "the release artifact")
	writeFile(t, otherBlob, "something else")
	pred := predicatePath(t, "slsaprovenance1")

	hmBundle := filepath.Join(dir, "hm.bundle")
	mustHM(t, 0, pw, "attest-blob", "--key", hmKey, "--type", "slsaprovenance1", "--predicate", pred, "--bundle", hmBundle, blob)
	co.must("verify-blob-attestation", "--key", hmPub, "--type", "slsaprovenance1", "--bundle", hmBundle, "--insecure-ignore-tlog", "--trusted-root", co.root, blob)
	co.mustFail("verify-blob-attestation", "--key", hmPub, "--type", "slsaprovenance1", "--bundle", hmBundle, "--insecure-ignore-tlog", "--trusted-root", co.root, otherBlob)
	mustHM(t, 0, nil, "verify-blob-attestation", "--key", hmPub, "--type", "slsaprovenance1", "--bundle", hmBundle, "--insecure-ignore-tlog", blob)

	coBundle := filepath.Join(dir, "co.bundle")
	co.must("attest-blob", "--key", coKey, "--type", "slsaprovenance1", "--predicate", pred, "--bundle", coBundle, "--signing-config", co.sc, "-y", blob)
	r := mustHM(t, 0, nil, "verify-blob-attestation", "--key", coPub, "--type", "slsaprovenance1", "--bundle", coBundle, "--insecure-ignore-tlog", blob)
	wantContains(t, r.stderr, "Verified OK")
	r = mustHM(t, exitNoMatchingSig, nil, "verify-blob-attestation", "--key", coPub, "--type", "slsaprovenance1", "--bundle", coBundle, "--insecure-ignore-tlog", otherBlob)
	wantContains(t, r.stderr, otherBlob+" does not verify against attestation bundle "+coBundle)
	mustHM(t, exitNoMatchingSig, nil, "verify-blob-attestation", "--key", coPub, "--type", "vuln", "--bundle", coBundle, "--insecure-ignore-tlog", blob)
	mustHM(t, exitNoMatchingSig, nil, "verify-blob-attestation", "--key", hmPub, "--type", "slsaprovenance1", "--bundle", coBundle, "--insecure-ignore-tlog", blob)

	// verify-blob takes an attestation bundle too, its artifact a subject of
	// the statement (an in-toto v0.1 one from both tools), as cosign's does.
	for _, c := range []struct{ tool, pub, bundle string }{{"hallmark", hmPub, hmBundle}, {"cosign", coPub, coBundle}} {
		r := mustHM(t, 0, nil, "verify-blob", "--key", c.pub, "--bundle", c.bundle, "--insecure-ignore-tlog", blob)
		wantContains(t, r.stderr, "Verified OK")
		if r := hm(t, nil, "verify-blob", "--key", c.pub, "--bundle", c.bundle, "--insecure-ignore-tlog", otherBlob); r.code == 0 {
			t.Errorf("verify-blob accepted %s's attestation bundle for another file", c.tool)
		}
		co.must("verify-blob", "--key", c.pub, "--bundle", c.bundle, "--insecure-ignore-tlog", "--trusted-root", co.root, blob)
	}
}

// TestBlobAttestationLegacyOutputs: attest-blob --new-bundle-format=false
// writes cosign v2's outputs — the DSSE envelope (standard output or
// --output-signature), the statement, a legacy bundle — and the envelope
// verifies with both tools; cosign v2 style outputs of cosign verify with
// Hallmark.
func TestBlobAttestationLegacyOutputs(t *testing.T) {
	co := newCosignPeer(t)
	hmKey, hmPub := shared(t)
	dir := t.TempDir()
	blob, other := filepath.Join(dir, "app.tar"), filepath.Join(dir, "other.tar")
	writeFile(t, blob, "the release artifact")
	writeFile(t, other, "something else")
	pred := predicatePath(t, "vuln")
	env, st, legacy := filepath.Join(dir, "env.json"), filepath.Join(dir, "statement.json"), filepath.Join(dir, "legacy.bundle")
	mustHM(t, 0, pw, "attest-blob", "--key", hmKey, "--type", "vuln", "--predicate", pred, "--new-bundle-format=false",
		"--output-signature", env, "--output-attestation", st, "--bundle", legacy, blob)
	wantContains(t, mustRead(t, st), `"predicateType":"https://cosign.sigstore.dev/attestation/vuln/v1"`)
	wantContains(t, mustRead(t, legacy), `"base64Signature"`)
	r := mustHM(t, 0, pw, "attest-blob", "--key", hmKey, "--type", "vuln", "--predicate", pred, "--new-bundle-format=false", blob)
	wantContains(t, r.stdout, `"payloadType":"application/vnd.in-toto+json"`)
	mustHM(t, 0, nil, "verify-blob-attestation", "--key", hmPub, "--type", "vuln", "--signature", env, "--insecure-ignore-tlog", blob)
	mustHM(t, exitNoMatchingSig, nil, "verify-blob-attestation", "--key", hmPub, "--type", "vuln", "--signature", env, "--insecure-ignore-tlog", other)
	co.must("verify-blob-attestation", "--key", hmPub, "--type", "vuln", "--signature", env, "--insecure-ignore-tlog", "--new-bundle-format=false", blob)
	co.mustFail("verify-blob-attestation", "--key", hmPub, "--type", "vuln", "--signature", env, "--insecure-ignore-tlog", "--new-bundle-format=false", other)
	mustHM(t, exitUsage, pw, "attest-blob", "--key", hmKey, "--type", "vuln", "--predicate", pred, "--output-signature", env, "--bundle", legacy, blob)
}
