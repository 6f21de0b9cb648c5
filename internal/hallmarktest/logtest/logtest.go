// Package logtest runs Hallmark's transparency log in-process for tests, with a
// trusted root and signing config naming it.
package logtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"hallmark.dev/hallmark/internal/hallmarktest"
	logserver "hallmark.dev/hallmark/internal/server/log"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/tlog"
	"hallmark.dev/hallmark/pkg/trust"
)

// Log is a transparency log served in-process on a loopback port.
type Log struct {
	URL           string
	Key           *ecdsa.PrivateKey
	TrustedRoot   string          // path of a trusted root naming this log
	SigningConfig string          // path of a signing config naming this log
	Trust         *trust.Material // what the trusted root trusts
	Service       *logserver.Service
}

// StartLog runs a log in a temporary directory until the test ends.
func StartLog(t testing.TB) *Log {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return StartLogWithKey(t, key)
}

// StartLogWithKey runs a log signing with key: two logs with one key and
// different entries are a forked log.
func StartLogWithKey(t testing.TB, key *ecdsa.PrivateKey) *Log {
	t.Helper()
	hallmarktest.QuietKlog()
	dir := t.TempDir()
	svc, err := logserver.Open(context.Background(), logserver.Config{Dir: filepath.Join(dir, "data"), Signer: key, BatchMaxAge: 2 * time.Millisecond, V2Origin: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(logserver.NewHandler(svc, 0, nil))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Close(ctx)
	})
	l := &Log{URL: srv.URL, Key: key, Service: svc}
	id, err := tlog.LogID(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	tr, err := cosign.NewLogTrustedRoot(srv.URL, key.Public(), id, start)
	if err != nil {
		t.Fatal(err)
	}
	l.TrustedRoot = writeProto(t, dir, "trusted-root.json", tr)
	l.SigningConfig = writeProto(t, dir, "signing-config.json", cosign.NewLogSigningConfig(srv.URL, "hallmark-test", start))
	if l.Trust, err = trust.FromTrustedRoot(tr); err != nil {
		t.Fatal(err)
	}
	return l
}

func writeProto(t testing.TB, dir, name string, m interface{ ProtoReflect() protoreflect.Message }) string {
	t.Helper()
	b, err := cosign.MarshalTrust(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
