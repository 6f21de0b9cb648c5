package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/cli"
)

// The suite's defaults for cases that do not give their own.
const (
	defaultIdentity = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
	defaultIssuer   = "https://token.actions.githubusercontent.com"
)

// TestBundleVerify: a case whose name ends in _fail must exit non-zero,
// every other must exit 0, whether given the artifact or its digest.
func TestBundleVerify(t *testing.T) {
	cases, err := filepath.Glob("testdata/bundle-verify/*")
	if err != nil || len(cases) < 70 {
		t.Fatalf("conformance cases: %v (%d found)", err, len(cases))
	}
	for _, dir := range cases {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		name := filepath.Base(dir)
		for _, byDigest := range []bool{false, true} {
			mode := "file"
			if byDigest {
				mode = "digest"
			}
			t.Run(name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				args := verifyArgs(t, dir, byDigest)
				var out, errb bytes.Buffer
				code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errb)
				if strings.HasSuffix(name, "_fail") {
					if code == 0 {
						t.Fatalf("hallmark %s\naccepted a bundle the suite says must fail (see %s/README)", strings.Join(args, " "), dir)
					}
					return
				}
				if code != 0 {
					t.Fatalf("hallmark %s\nexit %d: %s", strings.Join(args, " "), code, errb.String())
				}
			})
		}
	}
}

// verifyArgs builds the suite's verify-bundle call for a case, as cosign's
// conformance wrapper maps it: verify-blob --bundle B (--key K |
// --certificate-identity I --certificate-oidc-issuer U) --trusted-root T
// FILE_OR_DIGEST.
func verifyArgs(t *testing.T, dir string, byDigest bool) []string {
	args := []string{"verify-blob", "--bundle", filepath.Join(dir, "bundle.sigstore.json")}
	if key := filepath.Join(dir, "key.pub"); exists(key) {
		args = append(args, "--key", key)
	} else {
		args = append(args, "--certificate-identity", fileOr(t, filepath.Join(dir, "identity"), defaultIdentity),
			"--certificate-oidc-issuer", fileOr(t, filepath.Join(dir, "issuer"), defaultIssuer))
	}
	root := filepath.Join(dir, "trusted_root.json")
	if !exists(root) {
		root = "testdata/trusted_root-public-good.json"
	}
	args = append(args, "--trusted-root", root)
	artifact := filepath.Join(dir, "artifact")
	if !exists(artifact) {
		artifact = "testdata/a.txt"
	}
	if byDigest {
		data, err := os.ReadFile(artifact)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		artifact = "sha256:" + hex.EncodeToString(sum[:])
	}
	return append(args, artifact)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func fileOr(t *testing.T, path, def string) string {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return def
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
