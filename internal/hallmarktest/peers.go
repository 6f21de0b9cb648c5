package hallmarktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CosignVersion is the cosign release interop tests run against.
const CosignVersion = "v3.1.3"

// missingPeer skips (or, when peers are required, fails) a test that needs
// a peer that is not installed.
func missingPeer(t testing.TB, what, how string) {
	t.Helper()
	msg := "PEER MISSING: " + what + " is not installed; " + how
	if os.Getenv("HALLMARK_REQUIRE_PEERS") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Cosign returns the path of the cosign binary: $HALLMARK_COSIGN, else the
// one scripts/test caches under $HOME/.cache/hallmark-cosign.
func Cosign(t testing.TB) string {
	t.Helper()
	return peerBinary(t, "HALLMARK_COSIGN", "cosign", CosignVersion)
}

// CycloneDXGomodVersion is the SBOM generator the attestation tests run.
const CycloneDXGomodVersion = "v1.10.0"

// CycloneDXGomod returns the path of cyclonedx-gomod, which scripts/test
// builds from the module proxy.
func CycloneDXGomod(t testing.TB) string {
	t.Helper()
	return peerBinary(t, "HALLMARK_CYCLONEDX_GOMOD", "cyclonedx-gomod", CycloneDXGomodVersion)
}

// peerBinary is the path of a peer tool scripts/test builds: the variable
// env, else $HOME/.cache/hallmark-NAME/VERSION/NAME.
func peerBinary(t testing.TB, env, name, version string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		home, _ := os.UserHomeDir()
		p = filepath.Join(home, ".cache", "hallmark-"+name, version, name)
	}
	if _, err := os.Stat(p); err != nil {
		missingPeer(t, name+" "+version+" ("+p+")", "run scripts/test, which builds it")
	}
	return p
}

// CosignEnv returns an environment for running cosign offline: its TUF cache
// in a temporary directory and the key password set.
func CosignEnv(t testing.TB, password string) []string {
	t.Helper()
	return append(os.Environ(), "TUF_ROOT="+t.TempDir(), "COSIGN_PASSWORD="+password, "COSIGN_YES=true")
}

// RunCosign runs cosign with args in dir and returns its combined output
// and error.
func RunCosign(t testing.TB, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(Cosign(t), args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// CosignOffline writes the empty signing config and minimal trusted root
// cosign v3 needs to sign and verify with no network, and returns their paths.
func CosignOffline(t testing.TB, dir string) (signingConfig, trustedRoot string) {
	t.Helper()
	signingConfig = filepath.Join(dir, "signing-config.json")
	trustedRoot = filepath.Join(dir, "trusted-root.json")
	if err := os.WriteFile(signingConfig, []byte(`{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trustedRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return signingConfig, trustedRoot
}

// RekorCLIVersion is the rekor-cli release the log's tests run.
const RekorCLIVersion = "v1.5.3"

// RekorCLI returns the path of rekor-cli: $HALLMARK_REKOR_CLI, else the one
// scripts/test caches under $HOME/.cache/hallmark-rekor-cli.
func RekorCLI(t testing.TB) string {
	t.Helper()
	return peerBinary(t, "HALLMARK_REKOR_CLI", "rekor-cli", RekorCLIVersion)
}
