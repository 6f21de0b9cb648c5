package cli

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
)

func TestBadInputIsNamedNotPanicked(t *testing.T) {
	t.Parallel()
	reg := hallmarktest.EmbeddedRegistry(t, "")
	hallmarktest.PushImage(t, reg.Host, "app:v1", "app")
	key, pub := shared(t)
	dir := t.TempDir()
	garbled := writeFile(t, filepath.Join(dir, "garbled.key"), "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGpzb24=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
	notPEM := writeFile(t, filepath.Join(dir, "notpem.key"), "hello")
	badPub := writeFile(t, filepath.Join(dir, "bad.pub"), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
	badBundle := writeFile(t, filepath.Join(dir, "bad.bundle"), `{"mediaType":"nope"}`)
	notJSON := writeFile(t, filepath.Join(dir, "notjson.bundle"), `{{{`)
	blob := writeFile(t, filepath.Join(dir, "blob"), "data")
	badRoot := writeFile(t, filepath.Join(dir, "root.json"), `{"mediaType":"text/plain"}`)
	img := reg.Host + "/app:v1"

	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want []string
	}{
		{"garbled key file", pw, []string{"sign", "--key", garbled, img}, 1, []string{garbled, "malformed encrypted key"}},
		{"key file not PEM", pw, []string{"sign", "--key", notPEM, img}, 1, []string{notPEM, "no PEM block"}},
		{"missing key file", pw, []string{"sign", "--key", filepath.Join(dir, "absent.key"), img}, 1, []string{"absent.key", "no such file"}},
		{"wrong password", map[string]string{"COSIGN_PASSWORD": "nope"}, []string{"sign", "--key", key, img}, 1, []string{key, "wrong password"}},
		{"malformed image reference", pw, []string{"sign", "--key", key, "UPPER/Case::bad"}, exitUsage, []string{`invalid image reference "UPPER/Case::bad"`}},
		{"malformed reference on verify", nil, []string{"verify", "--key", pub, "a@sha256:short"}, exitUsage, []string{"invalid image reference"}},
		{"bad public key", nil, []string{"verify", "--key", badPub, img}, 1, []string{badPub}},
		{"annotation without =", pw, []string{"sign", "--key", key, "-a", "novalue", img}, exitUsage, []string{`annotation "novalue" is not key=value`}},
		{"bad output format", nil, []string{"verify", "--key", pub, "-o", "yaml", img}, exitUsage, []string{"--output"}},
		{"no key and no identity", nil, []string{"verify", img}, exitUsage, []string{"--certificate-identity or --certificate-identity-regexp is required", "--key"}},
		{"keyless without issuer", nil, []string{"verify", "--certificate-identity", "a@b", img}, exitUsage, []string{"--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required"}},
		{"keyless without trusted root", nil, []string{"verify", "--certificate-identity", "a@b", "--certificate-oidc-issuer", "https://x", img}, exitUsage, []string{"--trusted-root"}},
		{"key and identity", nil, []string{"verify", "--key", pub, "--certificate-identity", "a@b", img}, exitUsage, []string{"either --key or a certificate identity"}},
		{"bad identity regexp", nil, []string{"verify", "--certificate-identity-regexp", "(", "--certificate-oidc-issuer", "x", "--trusted-root", badRoot, img}, 1, []string{badRoot}},
		{"env key unset", nil, []string{"verify", "--key", "env://HALLMARK_NO_SUCH_VAR", img}, exitUsage, []string{"HALLMARK_NO_SUCH_VAR", "not set"}},
		{"KMS key reference", nil, []string{"verify", "--key", "awskms://alias/k", img}, exitUsage, []string{"awskms", "not supported yet"}},
		{"malformed bundle media type", nil, []string{"verify-blob", "--key", pub, "--bundle", badBundle, blob}, 1, []string{badBundle, "malformed bundle", `unsupported bundle mediaType "nope"`}},
		{"bundle not JSON", nil, []string{"verify-blob", "--key", pub, "--bundle", notJSON, blob}, 1, []string{notJSON, "malformed bundle"}},
		{"bad sha256 argument", nil, []string{"verify-blob", "--key", pub, "--bundle", badBundle, "sha256:xyz"}, exitUsage, []string{"sha256:xyz"}},
		{"bad trusted root", nil, []string{"verify", "--key", pub, "--trusted-root", badRoot, img}, 1, []string{badRoot, "mediaType"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mustHM(t, tc.code, tc.env, tc.args...)
			wantContains(t, r.stderr, tc.want...)
		})
	}
}

func TestKeyFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, pub := keyPair(t, dir, "k")
	for path, mode := range map[string]os.FileMode{key: 0o600, pub: 0o644} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", path, st.Mode().Perm(), mode)
		}
	}
	before, _ := os.ReadFile(key)
	r := mustHM(t, 1, pw, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "k"))
	wantContains(t, r.stderr, "already exists", "--force")
	if after, _ := os.ReadFile(key); string(after) != string(before) {
		t.Fatal("an existing private key was overwritten without --force")
	}
	mustHM(t, 0, pw, "generate-key-pair", "--force", "--output-key-prefix", filepath.Join(dir, "k"))
	if after, _ := os.ReadFile(key); string(after) == string(before) {
		t.Fatal("--force did not replace the key")
	}
	// public-key prints the matching public key.
	r = mustHM(t, 0, pw, "public-key", "--key", key)
	if want, _ := os.ReadFile(pub); r.stdout != string(want) {
		t.Errorf("public-key printed\n%s\nwant\n%s", r.stdout, want)
	}
}

func TestImportKeyPairEveryKeyType(t *testing.T) {
	t.Parallel()
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec256)
	pk8 := func(k any) []byte { b, _ := x509.MarshalPKCS8PrivateKey(k); return b }
	cases := map[string]*pem.Block{
		"ec-p256-sec1":  {Type: "EC PRIVATE KEY", Bytes: sec1},
		"ec-p384-pkcs8": {Type: "PRIVATE KEY", Bytes: pk8(ec384)},
		"rsa-pkcs1":     {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)},
		"rsa-pkcs8":     {Type: "PRIVATE KEY", Bytes: pk8(rsaKey)},
		"ed25519-pkcs8": {Type: "PRIVATE KEY", Bytes: pk8(edKey)},
	}
	for name, block := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := writeFile(t, filepath.Join(dir, "in.pem"), string(pem.EncodeToMemory(block)))
			prefix := filepath.Join(dir, "imported")
			mustHM(t, 0, pw, "import-key-pair", "--key", in, "--output-key-prefix", prefix)
			blob := writeFile(t, filepath.Join(dir, "blob"), "payload "+name)
			bundle := filepath.Join(dir, "blob.bundle")
			mustHM(t, 0, pw, "sign-blob", "--key", prefix+".key", "--bundle", bundle, blob)
			mustHM(t, 0, nil, "verify-blob", "--key", prefix+".pub", "--bundle", bundle, "--insecure-ignore-tlog", blob)
			writeFile(t, blob, "tampered")
			mustHM(t, exitNoMatchingSig, nil, "verify-blob", "--key", prefix+".pub", "--bundle", bundle, "--insecure-ignore-tlog", blob)
		})
	}
	t.Run("small RSA refused", func(t *testing.T) {
		small, _ := rsa.GenerateKey(rand.Reader, 1024)
		dir := t.TempDir()
		in := writeFile(t, filepath.Join(dir, "in.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)})))
		r := mustHM(t, 1, pw, "import-key-pair", "--key", in, "--output-key-prefix", filepath.Join(dir, "x"))
		wantContains(t, r.stderr, in, "1024 bits is too small")
	})
}

// A blob from a stream — standard input ("-") or a path that is one
// (/dev/fd/N, /dev/stdin, a pipe) — is read whole before the key's password,
// which (no terminal, no password variable) is read from standard input
// too: the blob is signed whole and the password is what is left (nothing).
// Streamed after the key was read, its first line became the password and
// the rest (here: nothing) was signed.
func TestSignBlobFromStreamBeforePassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prefix := filepath.Join(dir, "nopw")
	mustHM(t, 0, map[string]string{"HALLMARK_PASSWORD": ""}, "generate-key-pair", "--output-key-prefix", prefix)
	const content = "\nsecond line\nthird\n"
	for _, viaPath := range []bool{false, true} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.WriteString(w, content); w.Close() }()
		arg := "-"
		if viaPath {
			arg = fmt.Sprintf("/dev/fd/%d", r.Fd()) // the pipe standard input also reads from
		}
		bundle := filepath.Join(dir, fmt.Sprintf("stream-%v.bundle", viaPath))
		res := hmReader(t, nil, r, "sign-blob", "--key", prefix+".key", "--bundle", bundle, arg)
		r.Close()
		if res.code != 0 {
			t.Fatalf("sign-blob %s: exit %d\n%s", arg, res.code, res.stderr)
		}
		blob := writeFile(t, filepath.Join(dir, "blob"), content)
		mustHM(t, 0, nil, "verify-blob", "--key", prefix+".pub", "--bundle", bundle, "--insecure-ignore-tlog", blob)
		writeFile(t, blob, "")
		mustHM(t, exitNoMatchingSig, nil, "verify-blob", "--key", prefix+".pub", "--bundle", bundle, "--insecure-ignore-tlog", blob)
	}
}

func TestSignBlobVerifyBlob(t *testing.T) {
	t.Parallel()
	key, pub := shared(t)
	_, otherPub := keyPair(t, t.TempDir(), "other")
	dir := t.TempDir()
	blob := writeFile(t, filepath.Join(dir, "artifact.tar"), "release artifact")
	bundle := filepath.Join(dir, "artifact.bundle")
	sigFile := filepath.Join(dir, "artifact.sig")
	mustHM(t, 0, pw, "sign-blob", "--key", key, "--bundle", bundle, "--output-signature", sigFile, "-y", blob)
	mustHM(t, 0, nil, "verify-blob", "--key", pub, "--bundle", bundle, "--insecure-ignore-tlog", blob)
	sum := sha256.Sum256([]byte("release artifact"))
	mustHM(t, 0, nil, "verify-blob", "--key", pub, "--bundle", bundle, "--insecure-ignore-tlog", "sha256:"+hex.EncodeToString(sum[:]))

	other := sha256.Sum256([]byte("another artifact"))
	r := mustHM(t, exitNoMatchingSig, nil, "verify-blob", "--key", pub, "--bundle", bundle, "--insecure-ignore-tlog", "sha256:"+hex.EncodeToString(other[:]))
	wantContains(t, r.stderr, "messageDigest is not the artifact's SHA-256")
	r = mustHM(t, exitNoMatchingSig, nil, "verify-blob", "--key", otherPub, "--bundle", bundle, "--insecure-ignore-tlog", blob)
	wantContains(t, r.stderr, "does not verify")
	r = mustHM(t, exitNoMatchingSig, nil, "verify-blob", "--key", pub, "--bundle", bundle, blob)
	wantContains(t, r.stderr, "transparency log")
	mustHM(t, exitUsage, pw, "sign-blob", "--key", key, blob)
}
