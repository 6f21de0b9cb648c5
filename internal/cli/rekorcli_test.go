package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/internal/hallmarktest/logtest"
)

// TestRekorCLI: the seed's log commands, run by real rekor-cli v1.5.3
// against Hallmark's log: upload, get by entry ID (80 hex) and by UUID (64
// hex), get by index, verify, search, loginfo, and a duplicate upload.
func TestRekorCLI(t *testing.T) {
	t.Parallel()
	rc := hallmarktest.RekorCLI(t)
	lg := logtest.StartLog(t)
	key, pub := shared(t)
	dir := t.TempDir()
	blob := writeFile(t, filepath.Join(dir, "artifact"), "rekor-cli interop")
	sig := filepath.Join(dir, "artifact.sig")
	mustHM(t, 0, pw, "sign-blob", "--key", key, "--new-bundle-format=false", "--b64=false", "--output-signature", sig, "--tlog-upload=false", blob)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(rc, append(args, "--rekor_server", lg.URL)...)
		cmd.Env = []string{"HOME=" + dir}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("rekor-cli %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	sum := sha256.Sum256([]byte("rekor-cli interop"))
	upload := []string{"upload", "--type", "hashedrekord", "--pki-format", "x509", "--artifact-hash", hex.EncodeToString(sum[:]), "--signature", sig, "--public-key", pub}
	out := run(upload...)
	m := regexp.MustCompile(`Created entry at index (\d+), available at: \S+/api/v1/log/entries/([0-9a-f]{80})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("upload output lacks the 80-hex entry location:\n%s", out)
	}
	id := m[2]
	for _, args := range [][]string{
		{"get", "--uuid", id}, {"get", "--uuid", id[16:]}, {"get", "--log-index", m[1]},
		{"verify", "--uuid", id}, {"verify", "--log-index", m[1]},
	} {
		if out := run(args...); !strings.Contains(out, id[16:]) && !strings.Contains(out, "Inclusion Proof") {
			t.Errorf("rekor-cli %s:\n%s", strings.Join(args, " "), out)
		}
	}
	if out := run("search", "--artifact", blob); !strings.Contains(out, id) {
		t.Errorf("search does not list %s:\n%s", id, out)
	}
	if out := run("loginfo"); !strings.Contains(out, "Verification Successful!") {
		t.Errorf("loginfo:\n%s", out)
	}
	other := sha256.Sum256([]byte("x"))
	second := filepath.Join(dir, "second.sig")
	mustHM(t, 0, pw, "sign-blob", "--key", key, "--new-bundle-format=false", "--b64=false", "--output-signature", second, "--tlog-upload=false", writeFile(t, filepath.Join(dir, "second"), "x"))
	run("upload", "--type", "hashedrekord", "--pki-format", "x509", "--artifact-hash", hex.EncodeToString(other[:]), "--signature", second, "--public-key", pub)
	if out := run("loginfo"); !strings.Contains(out, "Verification Successful!") {
		t.Errorf("loginfo after growth (consistency proof from the saved state):\n%s", out)
	}
	if out := run(upload...); !strings.Contains(out, "Entry already exists") || !strings.Contains(out, id) {
		t.Errorf("duplicate upload:\n%s", out)
	}
}
