package proc

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"hallmark.dev/hallmark/internal/httpserve"
	"hallmark.dev/hallmark/internal/sample"
	"hallmark.dev/hallmark/internal/server/registry"
)

// CosignFlag defines -cosign, the cosign binary scripts/test builds.
func CosignFlag() *string {
	home, _ := os.UserHomeDir()
	return flag.String("cosign", filepath.Join(home, ".cache/hallmark-cosign/v3.1.3/cosign"), "cosign binary")
}

// Setup checks the cosign binary, makes a work directory and builds
// Hallmark into it. cleanup removes the directory.
func Setup(cosignPath string) (dir, hallmark string, cleanup func(), err error) {
	if _, err := os.Stat(cosignPath); err != nil {
		return "", "", nil, fmt.Errorf("cosign binary %s: %w (scripts/test builds it)", cosignPath, err)
	}
	if dir, err = os.MkdirTemp("", "hallmark-bench-"); err != nil {
		return "", "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	hallmark = filepath.Join(dir, "hallmark")
	if out, err := exec.Command("go", "build", "-o", hallmark, "./cmd/hallmark").CombinedOutput(); err != nil {
		cleanup()
		return "", "", nil, fmt.Errorf("building hallmark: %v\n%s", err, out)
	}
	return dir, hallmark, cleanup, nil
}

// Registry serves the embedded registry, stored in dir, on a loopback port
// until ctx ends, and returns its host:port.
func Registry(ctx context.Context, dir string) (string, error) {
	reg, err := registry.Open(filepath.Join(dir, "registry"), nil)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		reg.Close()
		return "", err
	}
	go func() {
		_ = httpserve.Serve(ctx, ln, reg, "", "")
		reg.Close()
	}()
	return ln.Addr().String(), nil
}

// PushSample writes a small sample image to ref (a tag in the registry).
func PushSample(ref, content string) error {
	img, err := sample.Image(content)
	if err != nil {
		return err
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return remote.Write(tag, img)
}

// Env is the environment both tools run in: empty key passwords and
// cosign's TUF cache inside dir (nothing is fetched).
func Env(dir string) []string {
	return append(os.Environ(), "COSIGN_PASSWORD=", "HALLMARK_PASSWORD=", "TUF_ROOT="+filepath.Join(dir, "tuf"))
}

// OfflineTrustedRoot writes a trusted root with nothing in it (key-signed
// verification with the log waived needs no more) and returns its path.
func OfflineTrustedRoot(dir string) (string, error) {
	root := filepath.Join(dir, "trusted-root.json")
	return root, os.WriteFile(root, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
}
