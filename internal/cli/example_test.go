package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/server/stack"
)

// TestGitHubActionsExample runs examples/github-actions/release.sh, the
// release workflow's signing steps, against hallmark serve, with the
// identity provider's Actions endpoint standing in for GitHub's: keyless
// sign, SBOM, vulnerability report and provenance attested, all verified
// with the workflow's identity and the example's policies. A report with a
// critical vulnerability fails the release.
func TestGitHubActionsExample(t *testing.T) {
	st := startStack(t, t.TempDir())
	bin := t.TempDir()
	if err := os.Symlink(os.Args[0], filepath.Join(bin, "hallmark")); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "examples", "github-actions", "release.sh"))
	if err != nil {
		t.Fatal(err)
	}
	clean := filepath.Join(t.TempDir(), "vuln.json")
	vuln, _ := os.ReadFile(predicatePath(t, "vuln"))
	writeFile(t, clean, strings.Replace(string(vuln), `"severity":"Critical"`, `"severity":"Medium"`, 1))
	run := func(image, vulnFile string) (string, error) {
		env := actionsEnv(t, mustHM(t, 0, nil, "oidc", "actions-env", "--data", st.dir, "--github-repository", "acme/app",
			"--github-ref", "refs/tags/v1.2.3").stdout)
		env["IMAGE"], env["SBOM"], env["VULN"] = image, predicatePath(t, "cyclonedx"), vulnFile
		env["HALLMARK_SIGNING_CONFIG"], env["HALLMARK_TRUSTED_ROOT"] = st.path(stack.SigningConfigFile), st.path(stack.TrustedRootFile)
		env["HALLMARK_OIDC_ISSUER"] = st.svc.OIDCGitHub
		env["PATH"] = bin + string(os.PathListSeparator) + os.Getenv("PATH")
		cmd := exec.Command("bash", script)
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	img := st.pushImage(t, "acme/app:v1.2.3", "the release")
	out, err := run(img, clean)
	if err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	wantContains(t, out, "Signed, attested and verified", "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3")
	r := mustHM(t, 0, nil, "verify-attestation", "--type", "slsaprovenance1", "--trusted-root", st.path(stack.TrustedRootFile),
		"--certificate-identity", "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3",
		"--certificate-oidc-issuer", st.svc.OIDCGitHub, img)
	st1 := envelopeStatement(t, strings.TrimSpace(r.stdout))
	builder := st1["predicate"].(map[string]any)["runDetails"].(map[string]any)["builder"].(map[string]any)["id"]
	if builder != "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3" {
		t.Errorf("provenance builder id %v", builder)
	}

	bad := st.pushImage(t, "acme/app:v1.2.4", "a release with a critical vulnerability")
	out, err = run(bad, predicatePath(t, "vuln"))
	if err == nil {
		t.Fatalf("release.sh passed an image with a critical vulnerability:\n%s", out)
	}
	wantContains(t, out, "critical vulnerability CVE-2026-0001")
}
