package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
)

// result is one in-process run of the hallmark command line.
type result struct {
	code           int
	stdout, stderr string
}

// hm runs hallmark in-process with env as its whole environment.
func hm(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return hmReader(t, env, strings.NewReader(""), args...)
}

// hmReader is hm with stdin as standard input (not a terminal).
func hmReader(t *testing.T, env map[string]string, stdin io.Reader, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{
		stdin: stdin, stdout: &out, stderr: &errb,
		getenv:    func(k string) string { return env[k] },
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		isTTY:     func() bool { return false },
	}
	code := a.run(context.Background(), args)
	return result{code, out.String(), errb.String()}
}

// mustHM runs hallmark and fails the test unless it exits with want.
func mustHM(t *testing.T, want int, env map[string]string, args ...string) result {
	t.Helper()
	r := hm(t, env, args...)
	if r.code != want {
		t.Fatalf("hallmark %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

var pw = map[string]string{"HALLMARK_PASSWORD": "test-password"}

var (
	sharedOnce           sync.Once
	sharedKey, sharedPub string
	sharedDir            string
)

// TestMain removes the shared key directory.
// Invoked through a link named hallmark, the test binary is the CLI (for
// tests that run scripts calling hallmark).
func TestMain(m *testing.M) {
	hallmarktest.QuietKlog()
	if filepath.Base(os.Args[0]) == "hallmark" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// shared returns one key pair for the whole package (scrypt is slow under
// the race detector), encrypted with pw.
func shared(t *testing.T) (key, pub string) {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hallmark-cli-test-")
		if err != nil {
			t.Fatal(err)
		}
		sharedDir = dir
		sharedKey, sharedPub = keyPair(t, dir, "shared")
	})
	if sharedKey == "" {
		t.Fatal("shared key generation failed earlier")
	}
	return sharedKey, sharedPub
}

// keyPair generates a key pair named prefix in dir with hallmark.
func keyPair(t *testing.T, dir, prefix string) (key, pub string) {
	t.Helper()
	p := filepath.Join(dir, prefix)
	mustHM(t, 0, pw, "generate-key-pair", "--output-key-prefix", p)
	return p + ".key", p + ".pub"
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func wantContains(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("output lacks %q:\n%s", sub, s)
		}
	}
}

func plainECKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pkcs8PEM(t, k)
}

// pkcs8PEM is an unencrypted PKCS#8 PEM of k, as import-key-pair reads.
func pkcs8PEM(t *testing.T, k crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}
