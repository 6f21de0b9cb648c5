package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/internal/hallmarktest/logtest"
	"hallmark.dev/hallmark/internal/sample"
	"hallmark.dev/hallmark/pkg/oci"
)

// The parity suite replays cosign v3.1.3 command lines through cosign and
// Hallmark on the same inputs and compares what a script sees: the parsed
// JSON on standard output, the class of the exit status, the files written
// and their modes. Where Hallmark differs on purpose the case says so.

// outcome is one run of one tool.
type outcome struct {
	code           int
	stdout, stderr string
}

// parity runs both tools in one directory.
type parity struct {
	t   *testing.T
	co  *cosignPeer
	env map[string]string // Hallmark's environment (and cosign's additions)
}

func newParity(t *testing.T) *parity {
	return &parity{t: t, co: newCosignPeer(t), env: map[string]string{"HALLMARK_PASSWORD": pw["HALLMARK_PASSWORD"]}}
}

func (p *parity) cosign(stdin string, args ...string) outcome {
	p.t.Helper()
	cmd := exec.Command(hallmarktest.Cosign(p.t), args...)
	cmd.Dir = p.co.dir
	cmd.Env = p.co.env
	for k, v := range p.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("running cosign: %v", err)
	}
	return outcome{code, out.String(), errb.String()}
}

func (p *parity) hallmark(stdin string, args ...string) outcome {
	p.t.Helper()
	var out, errb bytes.Buffer
	a := &app{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		getenv:    func(k string) string { return p.env[k] },
		lookupEnv: func(k string) (string, bool) { v, ok := p.env[k]; return v, ok },
		isTTY:     func() bool { return false },
	}
	return outcome{a.run(p.t.Context(), args), out.String(), errb.String()}
}

// both runs the same command line through each tool.
func (p *parity) both(args ...string) (co, hm outcome) {
	p.t.Helper()
	return p.cosign("", args...), p.hallmark("", args...)
}

// sameClass fails unless both succeeded or both failed; want is the code
// both must exit with (-1: any failure).
func sameClass(t *testing.T, what string, co, hm outcome, want int) {
	t.Helper()
	ok := func(o outcome) bool {
		if want == -1 {
			return o.code != 0
		}
		return o.code == want
	}
	if !ok(co) || !ok(hm) {
		t.Fatalf("%s: cosign exit %d, hallmark exit %d, want %d\ncosign: %s%s\nhallmark: %s%s", what, co.code, hm.code, want, co.stdout, co.stderr, hm.stdout, hm.stderr)
	}
}

// sameJSON fails unless both standard outputs parse to equal JSON.
func sameJSON(t *testing.T, what string, co, hm outcome) any {
	t.Helper()
	var a, b any
	if err := json.Unmarshal([]byte(strings.TrimSpace(co.stdout)), &a); err != nil {
		t.Fatalf("%s: cosign's output is not JSON: %v\n%s", what, err, co.stdout)
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(hm.stdout)), &b); err != nil {
		t.Fatalf("%s: hallmark's output is not JSON: %v\n%s", what, err, hm.stdout)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("%s: outputs differ\ncosign:   %s\nhallmark: %s", what, strings.TrimSpace(co.stdout), strings.TrimSpace(hm.stdout))
	}
	return a
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("%s was not written: %v", path, err)
	}
	return fi.Mode().Perm()
}

func TestParityVerifyOutput(t *testing.T) {
	t.Parallel()
	p := newParity(t)
	reg := hallmarktest.EmbeddedRegistry(t, "")
	key, pub := shared(t)
	img := func(n string) string { return hallmarktest.PushImage(t, reg.Host, "parity/"+n+":v1", n).String() }
	verify := func(pubKey string, extra ...string) []string {
		return append([]string{"verify", "--key", pubKey, "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", p.co.root}, extra...)
	}

	t.Run("bundle signature without annotations prints optional {}", func(t *testing.T) {
		i := img("plain")
		mustHM(t, 0, pw, "sign", "--key", key, i)
		co, hm := p.both(verify(pub, i)...)
		sameClass(t, "verify", co, hm, 0)
		out := sameJSON(t, "verify", co, hm).([]any)
		if opt := out[0].(map[string]any)["optional"]; !reflect.DeepEqual(opt, map[string]any{}) {
			t.Errorf("optional = %v, want {}", opt)
		}
	})
	t.Run("-a k1=v1,k2=v2 is two annotations, on sign and on verify", func(t *testing.T) {
		hmImg, coImg := img("ann-hm"), img("ann-co")
		mustHM(t, 0, pw, "sign", "--key", key, "-a", "k1=v1,k2=v=2", hmImg)
		co := p.cosign("", "sign", "--key", key, "--signing-config", p.co.sc, "--allow-insecure-registry", "-y", "-a", "k1=v1,k2=v=2", coImg)
		sameClass(t, "cosign sign", co, outcome{}, 0)
		for _, i := range []string{hmImg, coImg} {
			co, hm := p.both(verify(pub, "-a", "k1=v1", "-a", "k2=v=2", i)...)
			sameClass(t, "verify "+i, co, hm, 0)
			out := sameJSON(t, "verify "+i, co, hm).([]any)
			if opt := out[0].(map[string]any)["optional"]; !reflect.DeepEqual(opt, map[string]any{"k1": "v1", "k2": "v=2"}) {
				t.Errorf("optional = %v", opt)
			}
			co, hm = p.both(verify(pub, "-a", "k1=v1,k2=other", i)...)
			sameClass(t, "verify with a wrong annotation "+i, co, hm, -1)
		}
	})
	t.Run("--output-file takes standard output", func(t *testing.T) {
		i := img("outfile")
		mustHM(t, 0, pw, "sign", "--key", key, i)
		dir := t.TempDir()
		co := p.cosign("", append([]string{"--output-file", filepath.Join(dir, "co.json")}, verify(pub, i)...)...)
		hm := p.hallmark("", append([]string{"--output-file", filepath.Join(dir, "hm.json")}, verify(pub, i)...)...)
		sameClass(t, "verify --output-file", co, hm, 0)
		if strings.TrimSpace(co.stdout) != "" || strings.TrimSpace(hm.stdout) != "" {
			t.Errorf("standard output not redirected: cosign %q, hallmark %q", co.stdout, hm.stdout)
		}
		cb, _ := os.ReadFile(filepath.Join(dir, "co.json"))
		hb, _ := os.ReadFile(filepath.Join(dir, "hm.json"))
		sameJSON(t, "the files", outcome{stdout: string(cb)}, outcome{stdout: string(hb)})
	})
	t.Run("--key env://VAR", func(t *testing.T) {
		i := img("envkey")
		keyPEM, _ := os.ReadFile(key)
		pubPEM, _ := os.ReadFile(pub)
		p.env["PARITY_PRIV"], p.env["PARITY_PUB"] = string(keyPEM), string(pubPEM)
		hm := p.hallmark("", "sign", "--key", "env://PARITY_PRIV", i)
		co := p.cosign("", "sign", "--key", "env://PARITY_PRIV", "--signing-config", p.co.sc, "--allow-insecure-registry", "-y", i)
		sameClass(t, "sign --key env://", co, hm, 0)
		co, hm = p.both(verify("env://PARITY_PUB", i)...)
		sameClass(t, "verify --key env://", co, hm, 0)
		if got := sameJSON(t, "verify --key env://", co, hm).([]any); len(got) != 2 {
			t.Errorf("want both signatures, got %d", len(got))
		}
	})
	t.Run("exit codes: no signatures 10, no such image 11, none verified 12", func(t *testing.T) {
		unsigned := img("unsigned")
		co, hm := p.both(verify(pub, unsigned)...)
		sameClass(t, "unsigned image", co, hm, exitNoSignatures)
		co, hm = p.both(verify(pub, reg.Host+"/parity/nothing:here")...)
		sameClass(t, "missing tag", co, hm, exitNoSuchTag)
		legacy := img("legacy-wrong-key")
		mustHM(t, 0, pw, "sign", "--key", key, "--new-bundle-format=false", legacy)
		_, otherPub := keyPair(t, t.TempDir(), "other")
		co, hm = p.both(verify(otherPub, legacy)...)
		sameClass(t, "legacy signature, wrong key", co, hm, exitNoMatchingSig)
	})
	t.Run("--check-claims=false accepts a signature of another image", func(t *testing.T) {
		from, to := img("claims-from"), img("claims-to")
		mustHM(t, 0, pw, "sign", "--key", key, "--new-bundle-format=false", from)
		c, _ := oci.New()
		src, _ := name.NewDigest(digestOf(t, from))
		dst, _ := name.NewDigest(digestOf(t, to))
		sigs, err := c.LegacySignatures(t.Context(), src)
		if err != nil || len(sigs) != 1 {
			t.Fatalf("%v %d", err, len(sigs))
		}
		if err := c.AppendLegacySignature(t.Context(), dst, sigs[0].Payload, sigs[0].Annotations); err != nil {
			t.Fatal(err)
		}
		co, hm := p.both(verify(pub, to)...)
		sameClass(t, "a copied signature", co, hm, exitNoMatchingSig)
		co, hm = p.both(verify(pub, "--check-claims=false", to)...)
		sameClass(t, "a copied signature, claims not checked", co, hm, 0)
	})
	t.Run("usage errors", func(t *testing.T) {
		// cosign exits 1 for these; Hallmark 2, as its README says.
		for _, args := range [][]string{{"verify", "--no-such-flag", "x"}, {"verify-blob", "a", "b"}, {"no-such-command"}} {
			co, hm := p.both(args...)
			if co.code == 0 || hm.code != exitUsage {
				t.Errorf("%v: cosign exit %d, hallmark exit %d (want non-zero and 2)", args, co.code, hm.code)
			}
		}
	})
	t.Run("version", func(t *testing.T) {
		co, hm := p.both("version", "--json")
		sameClass(t, "version --json", co, hm, 0)
		var a, b map[string]any
		_ = json.Unmarshal([]byte(co.stdout), &a)
		_ = json.Unmarshal([]byte(hm.stdout), &b)
		if ka, kb := mapKeys(a), mapKeys(b); !reflect.DeepEqual(ka, kb) {
			t.Errorf("version --json keys: cosign %v, hallmark %v", ka, kb)
		}
		co, hm = p.both("version")
		startsALine := func(out, f string) bool {
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, f) {
					return true
				}
			}
			return false
		}
		for _, f := range []string{"GitVersion:", "GitCommit:", "GitTreeState:", "BuildDate:", "GoVersion:", "Compiler:", "Platform:"} {
			if !startsALine(co.stdout, f) || !startsALine(hm.stdout, f) {
				t.Errorf("version: no line starts with %s:\ncosign:\n%s\nhallmark:\n%s", f, co.stdout, hm.stdout)
			}
		}
	})
}

func mapKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestParityLoggedLegacySignature(t *testing.T) {
	t.Parallel()
	p := newParity(t)
	reg := hallmarktest.EmbeddedRegistry(t, "")
	lg := logtest.StartLog(t)
	key, pub := shared(t)
	i := hallmarktest.PushImage(t, reg.Host, "parity/logged:v1", "logged").String()
	mustHM(t, 0, pw, "sign", "--key", key, "--rekor-url", lg.URL, "--new-bundle-format=false", i)
	co, hm := p.both("verify", "--key", pub, "--allow-insecure-registry", "--trusted-root", lg.TrustedRoot, i)
	sameClass(t, "verify", co, hm, 0)
	out := sameJSON(t, "verify", co, hm).([]any)
	b, ok := out[0].(map[string]any)["optional"].(map[string]any)["Bundle"].(map[string]any)
	if !ok || b["SignedEntryTimestamp"] == nil || b["Payload"].(map[string]any)["logID"] == nil {
		t.Errorf("optional.Bundle: %v", out[0])
	}
}

func TestParitySigning(t *testing.T) {
	t.Parallel()
	p := newParity(t)
	reg := hallmarktest.EmbeddedRegistry(t, "")
	key, pub := shared(t)
	dir := t.TempDir()

	t.Run("--use-signing-config=false --tlog-upload=false signs without a log", func(t *testing.T) {
		i := hallmarktest.PushImage(t, reg.Host, "parity/nolog:v1", "nolog").String()
		co, hm := p.both("sign", "--key", key, "--use-signing-config=false", "--tlog-upload=false", "--allow-insecure-registry", "-y", i)
		sameClass(t, "sign", co, hm, 0)
		blob := writeFile(t, filepath.Join(dir, "nolog"), "blob")
		co, hm = p.both("sign-blob", "--key", key, "--use-signing-config=false", "--tlog-upload=false", "--bundle", filepath.Join(dir, "nolog.bundle"), "-y", blob)
		sameClass(t, "sign-blob", co, hm, 0)
	})
	t.Run("sign -r signs an index and its images", func(t *testing.T) {
		for _, tool := range []string{"cosign", "hallmark"} {
			idx, children := hallmarktest.PushIndex(t, reg.Host, "parity/index-"+tool+":v1", 2)
			args := []string{"sign", "--key", key, "-r", "--signing-config", p.co.sc, "--allow-insecure-registry", "-y", idx.String()}
			var o outcome
			if tool == "cosign" {
				o = p.cosign("", args...)
			} else {
				o = p.hallmark("", args...)
			}
			sameClass(t, tool+" sign -r", o, o, 0)
			co, hm := p.both("verify", "--key", pub, "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", p.co.root, children[1].String())
			sameClass(t, "verify a child signed by "+tool, co, hm, 0)
		}
	})
	t.Run("import-key-pair -o -y", func(t *testing.T) {
		plain := writeFile(t, filepath.Join(dir, "plain.pem"), string(plainKeyPEM(t)))
		for _, tool := range []string{"cosign", "hallmark"} {
			prefix := filepath.Join(dir, "imported-"+tool)
			writeFile(t, prefix+".key", "old")
			args := []string{"import-key-pair", "--key", plain, "-o", prefix, "-y"}
			var o outcome
			if tool == "cosign" {
				o = p.cosign("", args...)
			} else {
				o = p.hallmark("", args...)
			}
			sameClass(t, tool+" import-key-pair", o, o, 0)
			if m := mode(t, prefix+".key"); m != 0o600 {
				t.Errorf("%s wrote %s.key with mode %o, want 600", tool, prefix, m)
			}
		}
	})
}

func TestParityBlobs(t *testing.T) {
	t.Parallel()
	p := newParity(t)
	key, pub := shared(t)
	dir := t.TempDir()
	blob := writeFile(t, filepath.Join(dir, "artifact"), "parity blob")
	out := func(tool, name string) string { return filepath.Join(dir, tool+"-"+name) }
	run := func(tool, stdin string, args ...string) outcome {
		if tool == "cosign" {
			return p.cosign(stdin, args...)
		}
		return p.hallmark(stdin, args...)
	}
	for _, tool := range []string{"cosign", "hallmark"} {
		other := map[string]string{"cosign": "hallmark", "hallmark": "cosign"}[tool]
		t.Run(tool+" signs, "+other+" verifies", func(t *testing.T) {
			// A Sigstore bundle, the blob from standard input.
			o := run(tool, "parity blob", "sign-blob", "--key", key, "--signing-config", p.co.sc, "--bundle", out(tool, "bundle"), "-y", "-")
			sameClass(t, "sign-blob -", o, o, 0)
			if m := mode(t, out(tool, "bundle")); m != 0o600 {
				t.Errorf("%s wrote its bundle with mode %o, want 600", tool, m)
			}
			v := run(other, "parity blob", "verify-blob", "--key", pub, "--bundle", out(tool, "bundle"), "--insecure-ignore-tlog", "--trusted-root", p.co.root, "-")
			sameClass(t, other+" verify-blob -", v, v, 0)

			// cosign v2's outputs: a detached signature, raw and base64, and
			// the legacy bundle.
			for _, b64 := range []string{"true", "false"} {
				o = run(tool, "", "sign-blob", "--key", key, "--use-signing-config=false", "--tlog-upload=false", "--new-bundle-format=false",
					"--b64="+b64, "--output-signature", out(tool, "sig-"+b64), "--bundle", out(tool, "legacy-"+b64), "-y", blob)
				sameClass(t, "sign-blob --new-bundle-format=false --b64="+b64, o, o, 0)
				for _, f := range []string{"sig-" + b64, "legacy-" + b64} {
					if m := mode(t, out(tool, f)); m != 0o600 {
						t.Errorf("%s wrote %s with mode %o, want 600", tool, f, m)
					}
				}
				v = run(other, "", "verify-blob", "--key", pub, "--signature", out(tool, "sig-"+b64), "--insecure-ignore-tlog", blob)
				sameClass(t, other+" verify-blob --signature (b64 "+b64+")", v, v, 0)
				v = run(other, "", "verify-blob", "--key", pub, "--bundle", out(tool, "legacy-"+b64), "--new-bundle-format=false", "--insecure-ignore-tlog", blob)
				sameClass(t, other+" verify-blob of the legacy bundle", v, v, 0)
			}
			// Without --output-signature the signature goes to standard output.
			o = run(tool, "", "sign-blob", "--key", key, "--use-signing-config=false", "--tlog-upload=false", "--new-bundle-format=false", "-y", blob)
			sameClass(t, "sign-blob to standard output", o, o, 0)
			sigFile := writeFile(t, out(tool, "stdout.sig"), o.stdout)
			v = run(other, "", "verify-blob", "--key", pub, "--signature", sigFile, "--insecure-ignore-tlog", blob)
			sameClass(t, other+" verify-blob of the printed signature", v, v, 0)
		})
	}
	t.Run("a wrong blob fails in both", func(t *testing.T) {
		wrong := writeFile(t, filepath.Join(dir, "wrong"), "another blob")
		co, hm := p.both("verify-blob", "--key", pub, "--bundle", out("hallmark", "bundle"), "--insecure-ignore-tlog", "--trusted-root", p.co.root, wrong)
		sameClass(t, "verify-blob of another blob", co, hm, -1)
	})
}

func TestParityRegistryAuthAndTLS(t *testing.T) {
	t.Parallel()
	p := newParity(t)
	reg := hallmarktest.SecureDockerRegistry(t, "parity", "s3cret")
	key, pub := shared(t)
	i := reg.Host + "/parity/secure:v1"
	pushWith(t, i, reg)
	tlsFlags := []string{"--registry-cacert", reg.CA, "--registry-client-cert", reg.ClientCert, "--registry-client-key", reg.ClientKey, "--registry-server-name", reg.ServerName}
	auth := []string{"--registry-username", "parity", "--registry-password", "s3cret"}
	all := append(append([]string{}, tlsFlags...), auth...)
	with := func(args []string, flags []string) []string {
		return append(append(append([]string{}, args[:len(args)-1]...), flags...), args[len(args)-1])
	}
	co, hm := p.both(with([]string{"sign", "--key", key, "--signing-config", p.co.sc, "-y", "--registry-referrers-mode", "legacy", i}, all)...)
	sameClass(t, "sign with credentials, CA, client certificate and server name", co, hm, 0)
	verify := []string{"verify", "-d", "-t", "2m", "--max-workers", "4", "--key", pub, "--insecure-ignore-tlog", "--trusted-root", p.co.root, i}
	co, hm = p.both(with(verify, all)...)
	sameClass(t, "verify with all of them", co, hm, 0)
	sameJSON(t, "verify", co, hm)
	for what, flags := range map[string][]string{
		"no credentials":        tlsFlags,
		"no CA":                 append(append([]string{}, tlsFlags[2:]...), auth...),
		"no client certificate": append(append(append([]string{}, tlsFlags[:2]...), tlsFlags[6:]...), auth...),
		"no server name":        append(append([]string{}, tlsFlags[:6]...), auth...),
	} {
		co, hm = p.both(with(verify, flags)...)
		sameClass(t, "verify with "+what, co, hm, -1)
	}
	// --k8s-keychain takes the keychain before the credentials given, in both
	// (here the keychain has none for this registry).
	co, hm = p.both(with(verify, append([]string{"--k8s-keychain"}, all...))...)
	sameClass(t, "verify with --k8s-keychain", co, hm, -1)
	// oci-1-1 needs COSIGN_EXPERIMENTAL in both.
	co, hm = p.both(with([]string{"sign", "--key", key, "--signing-config", p.co.sc, "-y", "--registry-referrers-mode", "oci-1-1", i}, all)...)
	sameClass(t, "--registry-referrers-mode oci-1-1 without COSIGN_EXPERIMENTAL", co, hm, -1)
}

// plainKeyPEM is an unencrypted PKCS#8 ECDSA key, for import-key-pair.
func plainKeyPEM(t *testing.T) []byte {
	t.Helper()
	return []byte(plainECKeyPEM(t))
}

// pushWith pushes a sample image to ref on the secure registry.
func pushWith(t *testing.T, ref string, reg hallmarktest.SecureRegistry) {
	t.Helper()
	caPEM, err := os.ReadFile(reg.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(reg.ClientCert, reg.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: reg.ServerName, Certificates: []tls.Certificate{pair}}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := sample.Image("secure registry image")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, remote.WithTransport(tr), remote.WithAuth(&authn.Basic{Username: "parity", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
}

// digestOf resolves an image reference to its digest reference.
func digestOf(t *testing.T, ref string) string {
	t.Helper()
	c, _ := oci.New()
	r, err := c.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := c.Resolve(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}
