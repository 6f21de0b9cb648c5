package hallmarktest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"golang.org/x/crypto/bcrypt"

	"hallmark.dev/hallmark/internal/sample"
	"hallmark.dev/hallmark/internal/server/registry"
)

// Registry is a registry under test: its host:port and a name for subtests.
type Registry struct {
	Name string
	Host string
}

// EmbeddedRegistry serves Hallmark's registry, stored in dir (a new temporary
// directory when empty), on a loopback port until the test ends.
func EmbeddedRegistry(t testing.TB, dir string) Registry {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	reg, err := registry.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(func() { srv.Close(); reg.Close() })
	return Registry{Name: "embedded", Host: srv.Listener.Addr().String()}
}

// DockerRegistry starts Debian's docker-registry (distribution 2.8, no
// referrers API) on a loopback port until the test ends.
func DockerRegistry(t testing.TB) Registry {
	t.Helper()
	return startDockerRegistry(t, "", "", "http", "", "")
}

// SecureRegistry is a registry that needs TLS settings and credentials.
type SecureRegistry struct {
	Registry
	CA, ClientCert, ClientKey string // PEM files
	ServerName                string // the only name its certificate holds
}

// SecureDockerRegistry starts docker-registry serving HTTPS with a
// certificate for the name "registry.test" (not its address) from a new CA,
// requiring a client certificate from that CA and basic authentication as
// user with password.
func SecureDockerRegistry(t testing.TB, user, password string) SecureRegistry {
	t.Helper()
	dir := t.TempDir()
	const serverName = "registry.test"
	caFile, certFile, keyFile, clientCert, clientKey := TLSFilesWithClient(t, dir, serverName)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsConf := fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n    clientcas:\n      - %s\n", certFile, keyFile, caFile)
	auth := fmt.Sprintf("auth:\n  htpasswd:\n    realm: hallmark-test\n    path: %s\n", htpasswd)
	reg := startDockerRegistry(t, tlsConf, auth, "https", clientCert, clientKey)
	return SecureRegistry{Registry: reg, CA: caFile, ClientCert: clientCert, ClientKey: clientKey, ServerName: serverName}
}

// startDockerRegistry runs docker-registry with httpConf appended to its
// http section and topConf to its configuration's top level.
func startDockerRegistry(t testing.TB, httpConf, topConf, scheme, clientCert, clientKey string) Registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		missingPeer(t, "docker-registry (Debian package docker-registry)", "run scripts/test, which installs it")
	}
	port := freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%d\n", filepath.Join(dir, "data"), port)
	conf += httpConf + topConf
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting docker-registry: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	host := fmt.Sprintf("127.0.0.1:%d", port)
	probe := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // probing our own test server
	if clientCert != "" {
		pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
		if err != nil {
			t.Fatal(err)
		}
		probe.Certificates = []tls.Certificate{pair}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: probe}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(scheme + "://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not come up on %s: %v", host, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return Registry{Name: "docker-registry", Host: host}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// PushImage pushes a small sample image (its content derived from text) to
// host/repo:tag and returns its digest reference.
func PushImage(t testing.TB, host, repoTag, text string) name.Digest {
	t.Helper()
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := sample.Image(text)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(context.Background())); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(h.String())
}

// StatusRegistry answers every registry request with status (429, 500, 401…)
// and counts the requests it got.
func StatusRegistry(t testing.TB, status int) (host string, requests *atomic.Int64) {
	t.Helper()
	n := new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"status %d on purpose"}]}`, status)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), n
}

// DeadRegistry returns a loopback address where nothing listens.
func DeadRegistry(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}

// PushIndex pushes an index of n sample images to host/repoTag and returns
// the index digest and the children's digests.
func PushIndex(t testing.TB, host, repoTag string, n int) (name.Digest, []name.Digest) {
	t.Helper()
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	var adds []mutate.IndexAddendum
	var children []name.Digest
	for i := 0; i < n; i++ {
		img, err := sample.Image(fmt.Sprintf("%s platform %d", repoTag, i))
		if err != nil {
			t.Fatal(err)
		}
		h, _ := img.Digest()
		children = append(children, ref.Context().Digest(h.String()))
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "linux", Architecture: []string{"amd64", "arm64", "s390x", "ppc64le"}[i%4]},
		}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("pushing index %s: %v", ref, err)
	}
	h, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(h.String()), children
}

// FailingProxy forwards to the registry at upstream, but answers status to
// every request whose path contains failPath: a registry that serves images
// yet fails (or throttles) the signature lookups.
func FailingProxy(t testing.TB, upstream, failPath string, status int) string {
	t.Helper()
	target := &url.URL{Scheme: "http", Host: upstream}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, failPath) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"status %d on purpose"}]}`, status)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}
