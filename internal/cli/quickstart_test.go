package cli

import "testing"

// The README's first command must keep working: it asserts each step's exit
// code itself and fails otherwise.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	r := mustHM(t, 0, nil, "quickstart")
	wantContains(t, r.stdout, "Quickstart passed", "reject: a signature copied from another image", "=> exit 10, as expected",
		"Existence of the claims in the transparency log was verified offline", "Inclusion Proof Verified", "no transparency log entry",
		"Certificate issued to dev@hallmark.local", "identity token from github-actions", "githubWorkflowRepository (want octo/evil, got octo/demo)",
		"Rekor API v2", "Certificate identity verified")
}
