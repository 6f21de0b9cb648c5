package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverwritePrompt: generate-key-pair asks before replacing a key on a
// terminal (y replaces, anything else keeps), refuses without a terminal,
// and --force replaces without asking.
func TestOverwritePrompt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prefix := filepath.Join(dir, "k")
	mustHM(t, 0, pw, "generate-key-pair", "--output-key-prefix", prefix)
	first, _ := os.ReadFile(prefix + ".key")
	tty := func(answer string) (int, string) {
		var out, errb bytes.Buffer
		a := &app{stdin: strings.NewReader(answer), stdout: &out, stderr: &errb,
			getenv: func(k string) string { return pw[k] }, lookupEnv: func(k string) (string, bool) { v, ok := pw[k]; return v, ok },
			isTTY: func() bool { return true }}
		return a.run(t.Context(), []string{"generate-key-pair", "--output-key-prefix", prefix}), errb.String()
	}
	code, stderr := tty("n\n")
	if code == 0 || !strings.Contains(stderr, "already exists. Overwrite?") || !strings.Contains(stderr, "[y/N]") {
		t.Fatalf("declined: exit %d\n%s", code, stderr)
	}
	if now, _ := os.ReadFile(prefix + ".key"); !bytes.Equal(now, first) {
		t.Fatal("the key was replaced although the user declined")
	}
	if code, stderr = tty("y\n"); code != 0 {
		t.Fatalf("accepted: exit %d\n%s", code, stderr)
	}
	second, _ := os.ReadFile(prefix + ".key")
	if bytes.Equal(second, first) {
		t.Fatal("the key was not replaced although the user agreed")
	}
	r := mustHM(t, 1, pw, "generate-key-pair", "--output-key-prefix", prefix)
	wantContains(t, r.stderr, "already exists", "--force")
	mustHM(t, 0, pw, "generate-key-pair", "--output-key-prefix", prefix, "--force")
}

// TestPendingFlags: cosign flags of features Hallmark does not have yet say
// so, instead of "unknown flag".
func TestPendingFlags(t *testing.T) {
	t.Parallel()
	key, _ := shared(t)
	for _, args := range [][]string{
		{"sign-blob", "--key", key, "--slot", "9c", "--bundle", "b", "f"},
		{"generate-key-pair", "--kms", "awskms://alias/x"},
		{"sign", "--key", key, "--sk", "reg/img"},
	} {
		r := mustHM(t, exitUsage, pw, args...)
		wantContains(t, r.stderr, "not supported yet")
	}
}
