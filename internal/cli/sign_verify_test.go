package cli

import (
	"encoding/json"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/pkg/cosign"
)

func TestSignVerifyBothFormats(t *testing.T) {
	t.Parallel()
	reg := hallmarktest.EmbeddedRegistry(t, "")
	key, pub := shared(t)
	img := hallmarktest.PushImage(t, reg.Host, "app:v1", "app")
	tag := reg.Host + "/app:v1"

	r := mustHM(t, 0, pw, "sign", "--key", key, "-a", "env=prod", tag)
	wantContains(t, r.stderr, "is a tag: signing the digest", img.DigestStr(), "gets no log entry")
	mustHM(t, 0, pw, "sign", "--key", key, "-a", "env=prod", "--new-bundle-format=false", "-y", tag)

	r = mustHM(t, 0, nil, "verify", "--key", pub, "--insecure-ignore-tlog", "-a", "env=prod", tag)
	var got []cosign.SimpleSigning
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not cosign's JSON: %v\n%s", err, r.stdout)
	}
	if len(got) != 2 {
		t.Fatalf("verified %d signatures, want 2 (bundle + legacy): %s", len(got), r.stdout)
	}
	types := map[string]bool{}
	for _, s := range got {
		if s.Critical.Image.DockerManifestDigest != img.DigestStr() {
			t.Errorf("output digest %s, want %s", s.Critical.Image.DockerManifestDigest, img.DigestStr())
		}
		if s.Optional["env"] != "prod" {
			t.Errorf("output annotations %v lack env=prod", s.Optional)
		}
		types[s.Critical.Type] = true
	}
	if !types[cosign.SignPredicateType] || !types[cosign.SimpleSigningType] {
		t.Errorf("want one bundle and one legacy result, got types %v", types)
	}
	wantContains(t, r.stderr, "Verification for "+tag, "The specified annotations were verified", "verified against the specified public key")

	// By digest, and as text: one JSON payload per line.
	r = mustHM(t, 0, nil, "verify", "--key", pub, "--insecure-ignore-tlog", "-o", "text", img.String())
	if n := len(splitLines(r.stdout)); n != 2 {
		t.Errorf("-o text printed %d lines, want 2:\n%s", n, r.stdout)
	}
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

func TestVerifyNeedsTlogUnlessWaived(t *testing.T) {
	t.Parallel()
	reg := hallmarktest.EmbeddedRegistry(t, "")
	key, pub := shared(t)
	hallmarktest.PushImage(t, reg.Host, "app:v1", "app")
	mustHM(t, 0, pw, "sign", "--key", key, "--tlog-upload=false", reg.Host+"/app:v1")
	r := mustHM(t, exitNoMatchingSig, nil, "verify", "--key", pub, reg.Host+"/app:v1")
	wantContains(t, r.stderr, "transparency log", "--insecure-ignore-tlog")
}

func TestAppendKeepsEarlierSignatures(t *testing.T) {
	t.Parallel()
	reg := hallmarktest.EmbeddedRegistry(t, "")
	k1, p1 := shared(t)
	k2, p2 := keyPair(t, t.TempDir(), "two")
	hallmarktest.PushImage(t, reg.Host, "app:v1", "app")
	ref := reg.Host + "/app:v1"
	for _, format := range []string{"--new-bundle-format=true", "--new-bundle-format=false"} {
		mustHM(t, 0, pw, "sign", "--key", k1, format, ref)
		mustHM(t, 0, pw, "sign", "--key", k2, format, ref)
		mustHM(t, 0, pw, "sign", "--key", k2, format, ref) // same again: no duplicate harm
	}
	for _, pub := range []string{p1, p2} {
		r := mustHM(t, 0, nil, "verify", "--key", pub, "--insecure-ignore-tlog", ref)
		var got []cosign.SimpleSigning
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) < 2 {
			t.Errorf("key %s verified %d signatures, want its bundle and legacy ones", pub, len(got))
		}
	}
}

func TestSignatureRepository(t *testing.T) {
	t.Parallel()
	reg := hallmarktest.EmbeddedRegistry(t, "")
	key, pub := shared(t)
	hallmarktest.PushImage(t, reg.Host, "app:v1", "app")
	ref := reg.Host + "/app:v1"
	env := map[string]string{"HALLMARK_PASSWORD": "test-password", "COSIGN_REPOSITORY": reg.Host + "/sigs"}
	mustHM(t, 0, env, "sign", "--key", key, ref)
	mustHM(t, 0, env, "sign", "--key", key, "--new-bundle-format=false", ref)
	mustHM(t, exitNoSignatures, nil, "verify", "--key", pub, "--insecure-ignore-tlog", ref)
	mustHM(t, 0, env, "verify", "--key", pub, "--insecure-ignore-tlog", ref)
	mustHM(t, 0, nil, "verify", "--key", pub, "--insecure-ignore-tlog", "--signature-repository", reg.Host+"/sigs", ref)
}

func TestRecursiveSignsEveryPlatform(t *testing.T) {
	t.Parallel()
	reg := hallmarktest.EmbeddedRegistry(t, "")
	key, pub := shared(t)
	idx, children := hallmarktest.PushIndex(t, reg.Host, "multi:v1", 2)
	mustHM(t, 0, pw, "sign", "--key", key, "--recursive", reg.Host+"/multi:v1")
	mustHM(t, 0, nil, "verify", "--key", pub, "--insecure-ignore-tlog", idx.String())
	for _, c := range children {
		mustHM(t, 0, nil, "verify", "--key", pub, "--insecure-ignore-tlog", c.String())
	}
	// Without --recursive only the index is signed.
	idx2, children2 := hallmarktest.PushIndex(t, reg.Host, "multi2:v1", 2)
	mustHM(t, 0, pw, "sign", "--key", key, idx2.String())
	mustHM(t, exitNoSignatures, nil, "verify", "--key", pub, "--insecure-ignore-tlog", children2[0].String())
}

func TestRegistryRestartKeepsSignatures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, pub := shared(t)
	func() {
		reg := hallmarktest.EmbeddedRegistry(t, dir)
		hallmarktest.PushImage(t, reg.Host, "app:v1", "app")
		mustHM(t, 0, pw, "sign", "--key", key, reg.Host+"/app:v1")
		mustHM(t, 0, pw, "sign", "--key", key, "--new-bundle-format=false", reg.Host+"/app:v1")
	}()
	reg := hallmarktest.EmbeddedRegistry(t, dir) // a new process's view of the same data
	r := mustHM(t, 0, nil, "verify", "--key", pub, "--insecure-ignore-tlog", reg.Host+"/app:v1")
	var got []cosign.SimpleSigning
	_ = json.Unmarshal([]byte(r.stdout), &got)
	if len(got) != 2 {
		t.Fatalf("after restart %d signatures verified, want 2", len(got))
	}
}
