package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/rekor"
)

func loopbackAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestLogServeMySQL runs two `log serve --mysql` frontends as an operator
// would: no shared files but the key, the same trusted root from both,
// readiness, the log's metrics on their own listener, JSON logs; a
// frontend with another key and a pool of no connections are refused.
func TestLogServeMySQL(t *testing.T) {
	dsn := hallmarktest.MariaDB(t, "cli")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPath := filepath.Join(t.TempDir(), "signer.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	type front struct {
		base, metrics, data string
		stderr              *lockedBuffer
	}
	start := func(extra ...string) (*front, chan int) {
		f := &front{base: "http://" + loopbackAddr(t), metrics: "http://" + loopbackAddr(t), data: t.TempDir(), stderr: &lockedBuffer{}}
		ctx, cancel := context.WithCancel(context.Background())
		a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: f.stderr, getenv: func(string) string { return "" },
			lookupEnv: func(string) (string, bool) { return "", false }, isTTY: func() bool { return false }}
		args := append([]string{"log", "serve", "--mysql", dsn, "--data", f.data, "--addr", strings.TrimPrefix(f.base, "http://"),
			"--metrics-addr", strings.TrimPrefix(f.metrics, "http://"), "--log-format", "json", "--log-level", "debug"}, extra...)
		done := make(chan int, 1)
		go func() { done <- a.run(ctx, args) }()
		t.Cleanup(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("log serve did not drain in 30s")
			}
		})
		return f, done
	}
	ready := func(f *front, done chan int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			select {
			case code := <-done:
				t.Fatalf("log serve exited %d:\n%s", code, f.stderr)
			default:
			}
			if resp, err := http.Get(f.base + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("log serve never became ready:\n%s", f.stderr)
			}
		}
	}
	a, adone := start("--signer", keyPath)
	ready(a, adone)
	b, bdone := start("--signer", keyPath, "--mysql-max-conns", "4")
	ready(b, bdone)

	// An entry appended through one frontend is found through the other.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := keys.MarshalPublicKey(k.Public())
	d := sha256.Sum256([]byte("through a"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	entry, _ := rekor.NewHashedRekord(d[:], sig, pub)
	resp, err := http.Post(a.base+"/api/v1/log/entries", "application/json", bytes.NewReader(entry))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("append through the first frontend: %v %v", err, resp.Status)
	}
	loc := resp.Header.Get("Location")
	resp.Body.Close()
	if resp, err = http.Get(b.base + loc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the entry through the second frontend: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	if resp, _ = http.Post(b.base+"/api/v1/log/entries", "application/json", bytes.NewReader(entry)); resp.StatusCode != http.StatusConflict || resp.Header.Get("Location") != loc {
		t.Fatalf("the same entry through the second frontend: %s %s, want 409 %s", resp.Status, resp.Header.Get("Location"), loc)
	}
	resp.Body.Close()

	// Both write the same trusted root: the key's validity is the log's.
	ta, _ := os.ReadFile(filepath.Join(a.data, "trusted-root.json"))
	tb, _ := os.ReadFile(filepath.Join(b.data, "trusted-root.json"))
	if len(ta) == 0 || !bytes.Equal(ta, bytes.ReplaceAll(tb, []byte(b.base), []byte(a.base))) {
		t.Errorf("the frontends wrote different trusted roots:\n%s\n%s", ta, tb)
	}

	resp, err = http.Get(a.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`hallmark_log_appends_total{result="created"} 1`, "hallmark_log_db_connections_in_use",
		"hallmark_log_round_entries_count", "hallmark_log_append_seconds_bucket", "hallmark_log_checkpoint_size", "hallmark_log_queue_depth"} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(a.stderr.String(), `{"time":`) {
		t.Errorf("--log-format json wrote no JSON log line:\n%s", a.stderr)
	}

	// Another key (a frontend that made its own) is refused.
	c := &lockedBuffer{}
	app := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: c, getenv: func(string) string { return "" },
		lookupEnv: func(string) (string, bool) { return "", false }, isTTY: func() bool { return false }}
	if code := app.run(context.Background(), []string{"log", "serve", "--mysql", dsn, "--data", t.TempDir(), "--addr", loopbackAddr(t)}); code == 0 || !strings.Contains(c.String(), "--signer") {
		t.Errorf("a frontend with its own key: exit %d\n%s", code, c)
	}
	c = &lockedBuffer{}
	app.stderr = c
	if code := app.run(context.Background(), []string{"log", "serve", "--mysql", dsn, "--mysql-max-conns", "0", "--data", t.TempDir(), "--addr", loopbackAddr(t)}); code != 2 || !strings.Contains(c.String(), "--mysql-max-conns") {
		t.Errorf("--mysql-max-conns 0: exit %d\n%s", code, c)
	}
}
