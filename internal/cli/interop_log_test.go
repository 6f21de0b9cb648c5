package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/internal/hallmarktest/logtest"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/rekor"
)

// addEntries logs n signatures by a throwaway key.
func addEntries(t *testing.T, url string, n int) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := keys.MarshalPublicKey(k.Public())
	c, err := rekor.NewClient(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		d := sha256.Sum256([]byte(fmt.Sprint("entry ", i)))
		sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
		p, _ := rekor.NewHashedRekord(d[:], sig, pub)
		if _, _, err := c.Create(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCosignInteropThroughLog: both tools sign through Hallmark's log and
// each verifies the other's signatures against the trusted root, with the
// log check on (no --insecure-ignore-tlog), in every format.
func TestCosignInteropThroughLog(t *testing.T) {
	t.Parallel()
	co := newCosignPeer(t)
	reg := hallmarktest.EmbeddedRegistry(t, "")
	lg := logtest.StartLog(t)
	hmKey, hmPub := shared(t)
	co.must("generate-key-pair", "--output-key-prefix", "co")
	coKey, coPub := filepath.Join(co.dir, "co.key"), filepath.Join(co.dir, "co.pub")
	image := func(n string) string { return hallmarktest.PushImage(t, reg.Host, "logged/"+n+":v1", n).String() }
	coVerify := func(pub string, extra ...string) []string {
		return append([]string{"verify", "--key", pub, "--allow-insecure-registry", "--trusted-root", lg.TrustedRoot}, extra...)
	}
	hmVerify := func(pub, img string) []string {
		return []string{"verify", "--key", pub, "--trusted-root", lg.TrustedRoot, img}
	}

	t.Run("hallmark signs, cosign verifies", func(t *testing.T) {
		img := image("hm")
		mustHM(t, 0, pw, "sign", "--key", hmKey, "--signing-config", lg.SigningConfig, img)
		mustHM(t, 0, pw, "sign", "--key", hmKey, "--rekor-url", lg.URL, "--new-bundle-format=false", img)
		co.must(coVerify(hmPub, img)...)
		co.must(coVerify(hmPub, "--new-bundle-format=false", img)...)
		mustHM(t, 0, nil, hmVerify(hmPub, img)...)
	})
	t.Run("cosign signs, hallmark verifies", func(t *testing.T) {
		img := image("co")
		co.must("sign", "--key", coKey, "--signing-config", lg.SigningConfig, "--allow-insecure-registry", "-y", img)
		mustHM(t, 0, nil, hmVerify(coPub, img)...)
		legacy := image("co-legacy")
		co.must("sign", "--key", coKey, "--use-signing-config=false", "--rekor-url", lg.URL, "--new-bundle-format=false", "--allow-insecure-registry", "-y", legacy)
		r := mustHM(t, 0, nil, hmVerify(coPub, legacy)...)
		wantContains(t, r.stderr, "Existence of the claims in the transparency log was verified offline")
	})
	t.Run("log check is on: unlogged signatures and untrusted logs refused", func(t *testing.T) {
		img := image("unlogged")
		mustHM(t, 0, pw, "sign", "--key", hmKey, img) // no log configured
		r := mustHM(t, exitNoMatchingSig, nil, hmVerify(hmPub, img)...)
		wantContains(t, r.stderr, "no transparency log entry")
		co.mustFail(coVerify(hmPub, img)...)
		other := logtest.StartLog(t) // a trusted root for another log
		logged := image("logged")
		mustHM(t, 0, pw, "sign", "--key", hmKey, "--signing-config", lg.SigningConfig, logged)
		r = mustHM(t, exitNoMatchingSig, nil, "verify", "--key", hmPub, "--trusted-root", other.TrustedRoot, logged)
		wantContains(t, r.stderr, "not in the trusted root")
		co.mustFail("verify", "--key", hmPub, "--allow-insecure-registry", "--trusted-root", other.TrustedRoot, logged)
	})
	t.Run("blobs", func(t *testing.T) {
		blob := writeFile(t, filepath.Join(co.dir, "logged-blob"), "logged blob")
		hb, cb := filepath.Join(co.dir, "hm-logged.bundle"), filepath.Join(co.dir, "co-logged.bundle")
		mustHM(t, 0, pw, "sign-blob", "--key", hmKey, "--signing-config", lg.SigningConfig, "--bundle", hb, blob)
		co.must("verify-blob", "--key", hmPub, "--bundle", hb, "--trusted-root", lg.TrustedRoot, blob)
		co.must("sign-blob", "--key", coKey, "--signing-config", lg.SigningConfig, "--bundle", cb, "-y", blob)
		mustHM(t, 0, nil, "verify-blob", "--key", coPub, "--bundle", cb, "--trusted-root", lg.TrustedRoot, blob)
		mustHM(t, exitNoMatchingSig, nil, "verify-blob", "--key", hmPub, "--bundle", cb, "--trusted-root", lg.TrustedRoot, blob)
	})
	t.Run("cosign through the Rekor v2 API", func(t *testing.T) {
		sc := filepath.Join(co.dir, "sc-v2.json")
		co.must("signing-config", "create", "--rekor", "url="+lg.URL+",api-version=2,start-time=2024-01-01T00:00:00Z,operator=hallmark", "--rekor-config", "ANY", "--out", sc)
		img := image("co-v2")
		co.must("sign", "--key", coKey, "--signing-config", sc, "--allow-insecure-registry", "-y", img)
		co.must(coVerify(coPub, img)...)
		mustHM(t, 0, nil, hmVerify(coPub, img)...)
		mustHM(t, exitNoMatchingSig, nil, hmVerify(hmPub, img)...)
	})
	t.Run("hallmark through the Rekor v2 API", func(t *testing.T) {
		// A signing config whose only log speaks Rekor v2: Hallmark uploads
		// there (it used to sign without a log and say nothing).
		sc := filepath.Join(co.dir, "sc-v2-hm.json")
		co.must("signing-config", "create", "--rekor", "url="+lg.URL+",api-version=2,start-time=2024-01-01T00:00:00Z,operator=hallmark", "--rekor-config", "ANY", "--out", sc)
		img := image("hm-v2")
		r := mustHM(t, 0, pw, "sign", "--key", hmKey, "--signing-config", sc, img)
		wantContains(t, r.stderr, "Rekor API v2")
		co.must(coVerify(hmPub, img)...)
		mustHM(t, 0, nil, hmVerify(hmPub, img)...)
		blob := writeFile(t, filepath.Join(t.TempDir(), "v2blob"), "through rekor v2")
		bundle := filepath.Join(t.TempDir(), "v2.bundle")
		mustHM(t, 0, pw, "sign-blob", "--key", hmKey, "--signing-config", sc, "--bundle", bundle, blob)
		raw, _ := os.ReadFile(bundle)
		if !strings.Contains(string(raw), `"version":"0.0.2"`) {
			t.Errorf("sign-blob's bundle holds no hashedrekord 0.0.2 entry: %s", raw)
		}
		co.must("verify-blob", "--key", hmPub, "--bundle", bundle, "--trusted-root", lg.TrustedRoot, blob)
		// The legacy format cannot carry a v2 entry: refused, not stored
		// without one.
		r = mustHM(t, 1, pw, "sign", "--key", hmKey, "--signing-config", sc, "--new-bundle-format=false", image("hm-v2-legacy"))
		wantContains(t, r.stderr, "Rekor v2", "legacy")
		// A log the config names but Hallmark cannot use: refused, with why.
		unusable := filepath.Join(t.TempDir(), "sc-v9.json")
		writeFile(t, unusable, `{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json","rekorTlogUrls":[{"url":"`+lg.URL+`","majorApiVersion":9,"validFor":{"start":"2024-01-01T00:00:00Z"},"operator":"x"}],"rekorTlogConfig":{"selector":"ANY"}}`)
		r = mustHM(t, 1, pw, "sign-blob", "--key", hmKey, "--signing-config", unusable, "--bundle", filepath.Join(t.TempDir(), "x"), blob)
		wantContains(t, r.stderr, "API v9", "none of its transparency logs can be used")
	})
	t.Run("log client commands", func(t *testing.T) {
		mustHM(t, 0, pw, "sign-blob", "--key", hmKey, "--rekor-url", lg.URL, "--bundle", filepath.Join(t.TempDir(), "b"), writeFile(t, filepath.Join(t.TempDir(), "x"), "first"))
		r := mustHM(t, 0, nil, "log", "info", "--rekor-url", lg.URL, "--trusted-root", lg.TrustedRoot)
		wantContains(t, r.stdout, "Verification Successful!", "Tree Size:")
		mustHM(t, 0, nil, "log", "verify", "--log-index", "0", "--signing-config", lg.SigningConfig, "--trusted-root", lg.TrustedRoot)
		r = mustHM(t, 0, nil, "log", "search", "--public-key", hmPub, "--rekor-url", lg.URL)
		if len(splitLines(r.stdout)) < 1 {
			t.Errorf("search by Hallmark's key found %q", r.stdout)
		}
		state := filepath.Join(t.TempDir(), "monitor.json")
		mustHM(t, 0, nil, "log", "consistency", "--state", state, "--rekor-url", lg.URL, "--trusted-root", lg.TrustedRoot)
		addEntries(t, lg.URL, 3)
		r = mustHM(t, 0, nil, "log", "consistency", "--state", state, "--rekor-url", lg.URL, "--trusted-root", lg.TrustedRoot)
		wantContains(t, r.stdout, "Consistent: size")
		// Run again with nothing new, it proves the same tree and saves it once.
		saved := mustRead(t, state)
		r = mustHM(t, 0, nil, "log", "consistency", "--state", state, "--rekor-url", lg.URL, "--trusted-root", lg.TrustedRoot)
		wantContains(t, r.stdout, "Consistent: size")
		if again := mustRead(t, state); again != saved {
			t.Errorf("a second run with no new entries changed the saved checkpoints:\n%s\nthen\n%s", saved, again)
		}
		// The same log key over another history (a fork, or a rewrite) is caught.
		forked := logtest.StartLogWithKey(t, lg.Key)
		addEntries(t, forked.URL, 60) // longer than the real log: a fork, not a shrink
		r = mustHM(t, exitNoMatchingSig, nil, "log", "consistency", "--state", state, "--rekor-url", forked.URL, "--trusted-root", lg.TrustedRoot)
		wantContains(t, r.stderr, "not consistent", "forked or rewritten")
		// An impostor key is refused outright.
		impostor := logtest.StartLog(t)
		mustHM(t, 1, nil, "log", "consistency", "--state", state, "--rekor-url", impostor.URL, "--trusted-root", lg.TrustedRoot)
		mustHM(t, exitUsage, nil, "log", "get", "--rekor-url", lg.URL)
	})
}
