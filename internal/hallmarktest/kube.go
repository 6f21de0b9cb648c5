package hallmarktest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Kube is a node-less Kubernetes control plane (etcd and kube-apiserver)
// on loopback: admission webhooks run on every create; pods stay Pending.
type Kube struct {
	Dir        string
	Kubeconfig string
	Kubectl    string
	// CACert and CAKey are the cluster CA's files.
	CACert, CAKey string
}

// Kubernetes starts a control plane from the binaries scripts/test builds
// (scripts/build-kubernetes, cached under $HOME/.cache/hallmark-k8s) and
// stops it when the test ends.
func Kubernetes(t testing.TB) *Kube {
	t.Helper()
	bin := os.Getenv("HALLMARK_K8S_BIN")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "hallmark-k8s", "bin")
	}
	for _, b := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			missingPeer(t, b+" ("+bin+")", "run scripts/test, which builds kube-apiserver, kubectl and etcd with scripts/build-kubernetes")
		}
	}
	script := filepath.Join(repoRoot(t), "scripts", "kube-cluster")
	dir, err := os.MkdirTemp("", "hallmark-kube-")
	if err != nil {
		t.Fatal(err)
	}
	k := &Kube{Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"), Kubectl: filepath.Join(bin, "kubectl"),
		CACert: filepath.Join(dir, "pki", "ca.crt"), CAKey: filepath.Join(dir, "pki", "ca.key")}
	stop := func() {
		cmd := exec.Command(script, "stop", dir)
		cmd.Env = append(os.Environ(), "BIN="+bin)
		_ = cmd.Run()
		_ = os.RemoveAll(dir)
	}
	cmd := exec.Command(script, "start", dir)
	cmd.Env = append(os.Environ(), "BIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		stop()
		t.Fatalf("starting kube-apiserver: %v\n%s", err, out)
	}
	t.Cleanup(stop)
	return k
}

// Run runs kubectl against the cluster with stdin.
func (k *Kube) Run(stdin string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(k.Kubectl, append([]string{"--kubeconfig", k.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// MustRun runs kubectl and fails the test if it fails.
func (k *Kube) MustRun(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, errs, err := k.Run(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errs)
	}
	return out
}

// repoRoot is the directory holding go.mod above the working directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}
