package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"hallmark.dev/hallmark/internal/sample"
	"hallmark.dev/hallmark/internal/server/stack"
	"hallmark.dev/hallmark/pkg/cosign"
)

// lockedBuffer is a bytes.Buffer safe to write from the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stackRun is `hallmark serve` running in-process on loopback ports.
type stackRun struct {
	dir  string
	svc  *stack.Services
	stop func()
}

func startStack(t *testing.T, dir string) *stackRun {
	t.Helper()
	_ = os.Remove(filepath.Join(dir, stack.ServicesFile))
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &lockedBuffer{}
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr, getenv: func(string) string { return "" },
		lookupEnv: func(string) (string, bool) { return "", false }, isTTY: func() bool { return false }}
	done := make(chan int, 1)
	args := []string{"serve", "--data", dir, "--identity", "dev@hallmark.local", "--identity", "ops@hallmark.local"}
	for _, f := range []string{"registry", "rekor", "ct", "ca", "oidc", "tsa"} {
		args = append(args, "--"+f+"-addr", "127.0.0.1:0")
	}
	go func() { done <- a.run(ctx, args) }()
	var svc *stack.Services
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case code := <-done:
			cancel()
			t.Fatalf("hallmark serve exited %d:\n%s", code, stderr)
		default:
		}
		if s, err := stack.ReadServices(dir); err == nil {
			svc = s
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("hallmark serve did not start:\n%s", stderr)
		}
	}
	for _, u := range []string{svc.Registry, svc.Rekor, svc.CT, svc.CA, svc.OIDC, strings.TrimSuffix(svc.TSA, "/api/v1/timestamp")} {
		for i := 0; ; i++ {
			resp, err := http.Get(u + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if i > 200 {
				t.Fatalf("%s is not ready: %v", u, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var once sync.Once
	r := &stackRun{dir: dir, svc: svc, stop: func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("hallmark serve exited %d on SIGTERM-like stop:\n%s", code, stderr)
			}
		})
	}}
	t.Cleanup(r.stop)
	return r
}

func (s *stackRun) path(name string) string { return filepath.Join(s.dir, name) }

// token gets an identity token from the stack's provider into a file.
func (s *stackRun) token(t *testing.T, args ...string) string {
	t.Helper()
	out := mustHM(t, 0, nil, append([]string{"oidc", "token", "--data", s.dir}, args...)...).stdout
	if strings.HasSuffix(out, "\n") || strings.Count(out, ".") != 2 {
		t.Fatalf("oidc token printed %q, want a bare JWT", out)
	}
	return writeFile(t, filepath.Join(t.TempDir(), "token"), out)
}

// sigstoreGoVerifies checks a bundle with sigstore-go, an independent
// verifier, against the stack's trusted root: SCT, log entry or signed
// timestamp, and the identity.
func sigstoreGoVerifies(t *testing.T, trustedRoot string, bundleJSON []byte, artifact []byte, subject, issuer string) error {
	t.Helper()
	tr, err := root.NewTrustedRootFromPath(trustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sgverify.NewVerifier(tr, sgverify.WithSignedCertificateTimestamps(1), sgverify.WithObserverTimestamps(1), sgverify.WithTransparencyLog(1))
	if err != nil {
		t.Fatal(err)
	}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return err
	}
	id, err := sgverify.NewShortCertificateIdentity(issuer, "", subject, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(&b, sgverify.NewPolicy(sgverify.WithArtifact(bytes.NewReader(artifact)), sgverify.WithCertificateIdentity(id)))
	return err
}

// TestKeylessStack runs the private keyless flow end to end on hallmark
// serve: tokens from its issuer, certificates from its CA with SCTs from its
// CT log, entries in its log (both APIs), timestamps from its TSA; and the
// same stack restarted verifies what the first one signed.
func TestKeylessStack(t *testing.T) {
	dir := t.TempDir()
	st := startStack(t, dir)
	tr, sc1, sc2 := st.path(stack.TrustedRootFile), st.path(stack.SigningConfigFile), st.path(stack.SigningConfigV2File)
	tok := st.token(t)
	blob := writeFile(t, filepath.Join(t.TempDir(), "artifact.txt"), "release artifact\n")
	verifyBlob := func(bundle, subject string) result {
		return hm(t, nil, "verify-blob", "--bundle", bundle, "--trusted-root", tr,
			"--certificate-identity", subject, "--certificate-oidc-issuer", st.svc.OIDC, blob)
	}
	bundles := map[string]string{}
	for api, sc := range map[string]string{"v1": sc1, "v2": sc2} {
		b := filepath.Join(t.TempDir(), "blob-"+api+".json")
		r := mustHM(t, 0, nil, "sign-blob", "--identity-token", tok, "--signing-config", sc, "--trusted-root", tr, "--bundle", b, blob)
		wantContains(t, r.stderr, "Certificate issued to dev@hallmark.local", "Rekor API "+api)
		bundles[api] = b
		if r := verifyBlob(b, "dev@hallmark.local"); r.code != 0 {
			t.Fatalf("verify-blob (%s): %d\n%s", api, r.code, r.stderr)
		}
		if r := verifyBlob(b, "ops@hallmark.local"); r.code != exitNoMatchingSig {
			t.Errorf("verify-blob with another identity (%s): exit %d, want %d\n%s", api, r.code, exitNoMatchingSig, r.stderr)
		}
		raw, _ := os.ReadFile(b)
		if err := sigstoreGoVerifies(t, tr, raw, []byte("release artifact\n"), "dev@hallmark.local", st.svc.OIDC); err != nil {
			t.Errorf("sigstore-go refuses Hallmark's keyless bundle (%s): %v", api, err)
		}
		if err := sigstoreGoVerifies(t, tr, raw, []byte("other artifact"), "dev@hallmark.local", st.svc.OIDC); err == nil {
			t.Errorf("sigstore-go accepted the bundle for another artifact (%s)", api)
		}
	}

	// A detached signature, its certificate and its timestamp file (cosign's
	// JSON) verify without a log entry when the timestamp dates them; another
	// signature's timestamp does not.
	detached := func(name string) (sig, cert, ts string) {
		d := t.TempDir()
		sig, cert, ts = filepath.Join(d, name+".sig"), filepath.Join(d, name+".pem"), filepath.Join(d, name+".ts.json")
		mustHM(t, 0, nil, "sign-blob", "--identity-token", tok, "--signing-config", sc1, "--new-bundle-format=false",
			"--output-signature", sig, "--output-certificate", cert, "--rfc3161-timestamp", ts, blob)
		return sig, cert, ts
	}
	dSig, dCert, dTS := detached("one")
	verifyDetached := func(ts string, extra ...string) result {
		return hm(t, nil, append([]string{"verify-blob", "--signature", dSig, "--certificate", dCert, "--rfc3161-timestamp", ts,
			"--insecure-ignore-tlog", "--trusted-root", tr, "--certificate-identity", "dev@hallmark.local", "--certificate-oidc-issuer", st.svc.OIDC, blob}, extra...)...)
	}
	t.Run("detached signature with a timestamp file", func(t *testing.T) {
		if raw := mustRead(t, dTS); !strings.HasPrefix(raw, `{"SignedRFC3161Timestamp":"`) {
			t.Errorf("the timestamp file is not cosign's JSON: %.60q", raw)
		}
		if r := verifyDetached(dTS); r.code != 0 {
			t.Errorf("verify-blob with the timestamp file: exit %d\n%s", r.code, r.stderr)
		}
		_, _, otherTS := detached("two")
		// Given by hand, a timestamp must verify, with or without --use-signed-timestamps.
		for _, extra := range [][]string{nil, {"--use-signed-timestamps"}} {
			if r := verifyDetached(otherTS, extra...); r.code != exitNoMatchingSig || !strings.Contains(r.stderr, "timestamp") {
				t.Errorf("verify-blob %v with another signature's timestamp: exit %d, want %d\n%s", extra, r.code, exitNoMatchingSig, r.stderr)
			}
		}
		var ts cosign.RFC3161Annotation
		if err := json.Unmarshal([]byte(mustRead(t, dTS)), &ts); err != nil {
			t.Fatal(err)
		}
		der := writeFile(t, filepath.Join(t.TempDir(), "ts.der"), string(ts.SignedRFC3161Timestamp))
		if r := verifyDetached(der); r.code != 0 {
			t.Errorf("verify-blob with the DER timestamp: exit %d\n%s", r.code, r.stderr)
		}
		// A key signature is timestamped too (the signing config's TSA), and
		// its timestamp must verify.
		key, pub := shared(t)
		kd := t.TempDir()
		kSig, kTS := filepath.Join(kd, "k.sig"), filepath.Join(kd, "k.ts.json")
		mustHM(t, 0, pw, "sign-blob", "--key", key, "--signing-config", sc1, "--new-bundle-format=false",
			"--output-signature", kSig, "--rfc3161-timestamp", kTS, blob)
		for ts, want := range map[string]int{kTS: 0, otherTS: exitNoMatchingSig} {
			if r := hm(t, nil, "verify-blob", "--key", pub, "--signature", kSig, "--rfc3161-timestamp", ts, "--insecure-ignore-tlog",
				"--trusted-root", tr, blob); r.code != want {
				t.Errorf("verify-blob --key with timestamp %s: exit %d, want %d\n%s", filepath.Base(ts), r.code, want, r.stderr)
			}
		}
		// Asked for a timestamp file with no TSA to ask: refused before signing.
		r := mustHM(t, exitUsage, pw, "sign-blob", "--key", key, "--tlog-upload=false", "--output-signature", filepath.Join(kd, "n.sig"),
			"--rfc3161-timestamp", filepath.Join(kd, "n.ts.json"), blob)
		wantContains(t, r.stderr, "no timestamp authority to ask")
		if _, err := os.Stat(filepath.Join(kd, "n.sig")); err == nil {
			t.Error("the signature was written though the timestamp could not be")
		}

		bad := writeFile(t, filepath.Join(t.TempDir(), "ts.txt"), "not a timestamp")
		r = verifyDetached(bad)
		if r.code != 1 {
			t.Errorf("verify-blob with a file that is no timestamp: exit %d, want 1", r.code)
		}
		wantContains(t, r.stderr, "--rfc3161-timestamp "+bad)
	})

	t.Run("token for another audience is refused by the CA", func(t *testing.T) {
		bad := st.token(t, "--audience", "other")
		r := mustHM(t, 1, nil, "sign-blob", "--identity-token", bad, "--signing-config", sc1, "--bundle", filepath.Join(t.TempDir(), "b.json"), blob)
		wantContains(t, r.stderr, "refused (401", "audience")
	})
	t.Run("an unreadable trusted root fails the signing", func(t *testing.T) {
		// Read while the CA issues the certificate: its error must still end
		// the command, with nothing written.
		out := filepath.Join(t.TempDir(), "b.json")
		r := mustHM(t, 1, nil, "sign-blob", "--identity-token", tok, "--signing-config", sc1, "--trusted-root", filepath.Join(t.TempDir(), "missing.json"), "--bundle", out, blob)
		wantContains(t, r.stderr, "reading trusted root", "missing.json")
		if _, err := os.Stat(out); err == nil {
			t.Error("a bundle was written")
		}
	})
	t.Run("Rekor v2 without a TSA is refused before signing", func(t *testing.T) {
		noTSA := filepath.Join(t.TempDir(), "sc.json")
		start := "2020-01-01T00:00:00Z"
		mustHM(t, 0, nil, "signing-config", "create", "--fulcio", "url="+st.svc.CA+",api-version=1,start-time="+start+",operator=x",
			"--rekor", "url="+st.svc.Rekor+",api-version=2,start-time="+start+",operator=x", "--rekor-config", "ANY", "--out", noTSA)
		r := mustHM(t, exitUsage, nil, "sign-blob", "--identity-token", tok, "--signing-config", noTSA, "--bundle", filepath.Join(t.TempDir(), "b.json"), blob)
		wantContains(t, r.stderr, "needs a timestamp authority")
	})

	img := st.pushImage(t, "demo/app:v1", "image content")
	t.Run("images, both formats", func(t *testing.T) {
		mustHM(t, 0, nil, "sign", "--identity-token", tok, "--signing-config", sc2, "--trusted-root", tr, img)
		mustHM(t, 0, nil, "sign", "--new-bundle-format=false", "--identity-token", tok, "--signing-config", sc1, "--trusted-root", tr, img)
		r := mustHM(t, 0, nil, "verify", "--trusted-root", tr, "--certificate-identity", "dev@hallmark.local", "--certificate-oidc-issuer", st.svc.OIDC, img)
		if n := strings.Count(r.stdout, "docker-manifest-digest"); n != 2 {
			t.Errorf("verify found %d signatures, want the bundle and the legacy one:\n%s", n, r.stdout)
		}
	})

	// A missing image is found missing before a certificate is issued for
	// it (and logged by the CA), as cosign resolves first.
	t.Run("a missing image gets no certificate", func(t *testing.T) {
		missing := strings.Replace(img, "demo/app:v1", "demo/nosuch:v1", 1)
		pred := writeFile(t, filepath.Join(t.TempDir(), "pred.json"), `{"k":"v"}`)
		for _, args := range [][]string{
			{"sign", "--identity-token", tok, "--signing-config", sc1, missing},
			{"attest", "--identity-token", tok, "--signing-config", sc1, "--predicate", pred, "--type", "custom", missing},
		} {
			r := mustHM(t, exitNoSuchTag, nil, args...)
			if strings.Contains(r.stderr, "certificate") {
				t.Errorf("%s of a missing image asked for a certificate:\n%s", args[0], r.stderr)
			}
		}
	})

	t.Run("attestations, keyless", func(t *testing.T) {
		att := st.pushImage(t, "demo/attested:v1", "attested content")
		keyless := []string{"--trusted-root", tr, "--certificate-identity", "dev@hallmark.local", "--certificate-oidc-issuer", st.svc.OIDC}
		// Bundle format on Rekor v2 (hashedrekord over the PAE, with the TSA),
		// legacy format on Rekor v1 (a dsse entry, its SET in the layer).
		mustHM(t, 0, nil, "attest", "--identity-token", tok, "--signing-config", sc2, "--trusted-root", tr,
			"--type", "slsaprovenance1", "--predicate", predicatePath(t, "slsaprovenance1"), att)
		mustHM(t, 0, nil, "attest", "--identity-token", tok, "--signing-config", sc1, "--trusted-root", tr, "--new-bundle-format=false",
			"--type", "vuln", "--predicate", predicatePath(t, "vuln"), att)
		r := mustHM(t, 0, nil, append([]string{"verify-attestation", "--type", "slsaprovenance1", "--policy", policyPath(t, "builder.rego")}, append(keyless, att)...)...)
		wantContains(t, r.stderr, "Proven identity", "dev@hallmark.local")
		mustHM(t, 0, nil, append([]string{"verify-attestation", "--type", "vuln"}, append(keyless, att)...)...)
		r = mustHM(t, exitNoMatchingSig, nil, append([]string{"verify-attestation", "--type", "vuln", "--policy", policyPath(t, "nocritical.rego")}, append(keyless, att)...)...)
		wantContains(t, r.stderr, "critical vulnerability CVE-2026-0001")
		mustHM(t, exitNoMatchingSig, nil, "verify-attestation", "--type", "vuln", "--trusted-root", tr,
			"--certificate-identity", "ops@hallmark.local", "--certificate-oidc-issuer", st.svc.OIDC, att)
		// cosign reads the legacy .att image only when told to (or when the
		// image has no bundles); Hallmark reads both layouts.
		c := newCosignPeer(t)
		c.must(append([]string{"verify-attestation", "--type", "slsaprovenance1", "--allow-http-registry"}, append(keyless, att)...)...)
		c.must(append([]string{"verify-attestation", "--type", "vuln", "--new-bundle-format=false", "--allow-http-registry"}, append(keyless, att)...)...)
	})

	t.Run("GitHub Actions", func(t *testing.T) {
		env := actionsEnv(t, mustHM(t, 0, nil, "oidc", "actions-env", "--data", st.dir, "--github-repository", "octo/demo",
			"--github-ref", "refs/tags/v1.2.3", "--github-environment", "release").stdout)
		r := mustHM(t, 0, env, "sign", "--signing-config", sc1, "--trusted-root", tr, img)
		wantContains(t, r.stderr, "from github-actions", "https://github.com/octo/demo/.github/workflows/release.yml@refs/tags/v1.2.3")
		base := []string{"verify", "--trusted-root", tr, "--certificate-identity-regexp", "^https://github.com/octo/demo/",
			"--certificate-oidc-issuer", st.svc.OIDCGitHub}
		mustHM(t, 0, nil, append(base, "--certificate-github-workflow-repository", "octo/demo", "--certificate-github-workflow-ref", "refs/tags/v1.2.3",
			"--certificate-github-workflow-trigger", "push", img)...)
		r = mustHM(t, exitNoMatchingSig, nil, append(base, "--certificate-github-workflow-repository", "octo/other", img)...)
		wantContains(t, r.stderr, "githubWorkflowRepository (want octo/other, got octo/demo)")
		mustHM(t, exitNoMatchingSig, nil, append(base, "--certificate-github-workflow-ref", "refs/heads/main", img)...)
	})

	t.Run("cosign", func(t *testing.T) {
		c := newCosignPeer(t)
		for api, b := range bundles {
			if out, err := c.run("verify-blob", "--bundle", b, "--trusted-root", tr, "--certificate-identity", "dev@hallmark.local",
				"--certificate-oidc-issuer", st.svc.OIDC, blob); err != nil {
				t.Errorf("cosign refuses Hallmark's keyless blob bundle (%s): %v\n%s", api, err, out)
			}
		}
		for _, extra := range [][]string{nil, {"--new-bundle-format=false"}} {
			args := append([]string{"verify", "--trusted-root", tr, "--certificate-identity", "dev@hallmark.local",
				"--certificate-oidc-issuer", st.svc.OIDC, "--allow-http-registry"}, extra...)
			c.must(append(args, img)...)
		}
		// cosign signs against the stack (both log APIs, with the TSA); Hallmark verifies.
		for api, sc := range map[string]string{"v1": sc1, "v2": sc2} {
			b := filepath.Join(c.dir, "cosign-"+api+".json")
			c.must("sign-blob", "--identity-token", mustRead(t, tok), "--signing-config", sc, "--trusted-root", tr, "--bundle", b, "-y", blob)
			if r := verifyBlob(b, "dev@hallmark.local"); r.code != 0 {
				t.Errorf("Hallmark refuses cosign's keyless bundle (%s): %s", api, r.stderr)
			}
		}
		// cosign reads Hallmark's detached signature, certificate and timestamp
		// file; cosign v3 takes those only in its legacy mode, which trusts
		// chain files and the CT log's key instead of a trusted root.
		c.env = append(c.env, "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE="+ctLogKey(t, tr))
		c.must("verify-blob", "--signature", dSig, "--certificate", dCert, "--certificate-chain", filepath.Join(dir, "ca", "chain.pem"),
			"--rfc3161-timestamp", dTS, "--timestamp-certificate-chain", filepath.Join(dir, "tsa", "chain.pem"), "--use-signed-timestamps",
			"--insecure-ignore-tlog", "--certificate-identity", "dev@hallmark.local", "--certificate-oidc-issuer", st.svc.OIDC, blob)
		img2 := st.pushImage(t, "demo/cosigned:v1", "cosign's image")
		c.must("sign", "--identity-token", mustRead(t, tok), "--signing-config", sc2, "--trusted-root", tr, "--allow-http-registry", "-y", img2)
		mustHM(t, 0, nil, "verify", "--trusted-root", tr, "--certificate-identity", "dev@hallmark.local", "--certificate-oidc-issuer", st.svc.OIDC, img2)
	})

	// Restart on the same directory, on other ports: same keys, and what the
	// first run signed still verifies against the rewritten trust files.
	before := mustRead(t, filepath.Join(dir, "ca", "chain.pem"))
	st.stop()
	st2 := startStack(t, dir)
	if st2.svc.CA == st.svc.CA {
		t.Log("the second run got the same CA port")
	}
	if after := mustRead(t, filepath.Join(dir, "ca", "chain.pem")); after != before {
		t.Error("restart made a new CA")
	}
	for api, b := range bundles {
		if r := verifyBlob(b, "dev@hallmark.local"); r.code != 0 {
			t.Errorf("after restart, the first run's %s bundle does not verify: %s", api, r.stderr)
		}
	}
	mustHM(t, 0, nil, "verify", "--trusted-root", tr, "--certificate-identity", "dev@hallmark.local", "--certificate-oidc-issuer", st.svc.OIDC,
		strings.Replace(img, strings.TrimPrefix(st.svc.Registry, "http://"), strings.TrimPrefix(st2.svc.Registry, "http://"), 1))
	// And it still signs.
	tok2 := st2.token(t)
	mustHM(t, 0, nil, "sign-blob", "--identity-token", tok2, "--signing-config", sc1, "--trusted-root", tr, "--bundle", filepath.Join(t.TempDir(), "b.json"), blob)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pushImage pushes a sample image to the stack's registry.
func (s *stackRun) pushImage(t *testing.T, repoTag, text string) string {
	t.Helper()
	img, err := sample.Image(text)
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(s.svc.Registry, "http://") + "/" + repoTag
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// actionsEnv reads `oidc actions-env` output into an environment.
func actionsEnv(t *testing.T, out string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			t.Fatalf("actions-env line %q", line)
		}
		env[k] = strings.Trim(v, "'")
	}
	if env["ACTIONS_ID_TOKEN_REQUEST_URL"] == "" || env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] == "" {
		t.Fatalf("actions-env printed %q", out)
	}
	return env
}

// ctLogKey writes the trusted root's (first) CT log key to a PEM file for
// cosign's legacy mode and returns its path.
func ctLogKey(t *testing.T, trustedRoot string) string {
	t.Helper()
	var tr struct {
		CTLogs []struct {
			PublicKey struct {
				RawBytes []byte `json:"rawBytes"`
			} `json:"publicKey"`
		} `json:"ctlogs"`
	}
	if err := json.Unmarshal([]byte(mustRead(t, trustedRoot)), &tr); err != nil || len(tr.CTLogs) == 0 {
		t.Fatalf("no CT log in %s: %v", trustedRoot, err)
	}
	return writeFile(t, filepath.Join(t.TempDir(), "ct.pub"),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: tr.CTLogs[0].PublicKey.RawBytes})))
}
