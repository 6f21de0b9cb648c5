package hallmarktest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Counter counts what a CountingProxy served: requests per URL path and
// response bytes in all.
type Counter struct {
	mu    sync.Mutex
	paths map[string]int
	bytes atomic.Int64
}

// Requests returns how many requests named a path containing s.
func (c *Counter) Requests(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for p, k := range c.paths {
		if strings.Contains(p, s) {
			n += k
		}
	}
	return n
}

// Bytes returns the response body bytes served.
func (c *Counter) Bytes() int64 { return c.bytes.Load() }

// CountingProxy forwards to the registry at upstream and counts requests
// and the bytes of response bodies (GETs of blobs and manifests).
func CountingProxy(t testing.TB, upstream string) (string, *Counter) {
	t.Helper()
	c := &Counter{paths: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.paths[r.Method+" "+r.URL.Path]++
		c.mu.Unlock()
		proxy.ServeHTTP(&countingWriter{ResponseWriter: w, n: &c.bytes}, r)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), c
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return w.ResponseWriter.Write(p)
}

// DripRegistry forwards to the registry at upstream, but answers every GET
// whose path contains dripPath with its headers at once and then one byte
// per interval, for ever: a registry that is alive but never finishes.
func DripRegistry(t testing.TB, upstream, dripPath string, interval time.Duration) string {
	t.Helper()
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream})
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, dripPath) {
			proxy.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(http.StatusOK)
		for {
			if _, err := io.WriteString(w, " "); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(interval):
			case <-r.Context().Done():
				return
			case <-done:
				return
			}
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.Listener.Addr().String()
}

// BasicAuthRegistry forwards to the registry at upstream only requests
// carrying user and password (basic auth); the rest get 401 with a Basic
// challenge, as a private registry answers.
func BasicAuthRegistry(t testing.TB, upstream, user, password string) string {
	t.Helper()
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="hallmark-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		r.Header.Del("Authorization")
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}
