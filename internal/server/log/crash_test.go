package log

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/tlog"
)

type ack struct {
	uuid  string
	index int64
	body  []byte
	size  uint64
	root  []byte
}

// TestCrashSafety kills the log process (SIGKILL) again and again while
// clients append. After each restart no acknowledged entry is missing or
// moved, every checkpoint handed out is consistent with the new tree, and
// the log takes new entries.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	dir := t.TempDir()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	key, err := LoadOrCreateSigner(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var acks []ack
	var mu sync.Mutex
	s := newSigner(t)
	const rounds = 5
	for round := 0; round < rounds; round++ {
		child := startChild(t, dir, addr)
		if round > 0 {
			checkAfterRestart(t, base, key.Public(), acks)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := 0; c < 8; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				client := &http.Client{Timeout: 5 * time.Second}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := client.Post(base+"/api/v1/log/entries", "application/json", bytes.NewReader(s.entry(t, []byte(fmt.Sprint(round, c, i)))))
					if err != nil {
						return // the server died
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						continue
					}
					var m map[string]*rekor.LogEntry
					if json.Unmarshal(b, &m) != nil {
						continue
					}
					for uuid, le := range m {
						body, _ := base64.StdEncoding.DecodeString(le.Body)
						root, _ := hex.DecodeString(le.Verification.InclusionProof.RootHash)
						mu.Lock()
						acks = append(acks, ack{uuid, le.LogIndex, body, uint64(le.Verification.InclusionProof.TreeSize), root})
						mu.Unlock()
					}
				}
			}(c)
		}
		time.Sleep(time.Duration(150+rand.IntN(350)) * time.Millisecond)
		_ = child.Process.Signal(syscall.SIGKILL)
		_ = child.Wait()
		close(stop)
		wg.Wait()
	}
	if len(acks) < rounds {
		t.Fatalf("only %d appends were acknowledged across %d rounds", len(acks), rounds)
	}
	child := startChild(t, dir, addr)
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	checkAfterRestart(t, base, key.Public(), acks)
	t.Logf("%d acknowledged entries survived %d SIGKILLs", len(acks), rounds)
}

func startChild(t *testing.T, dir, addr string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HALLMARK_CRASH_CHILD_DIR="+dir, "HALLMARK_CRASH_CHILD_ADDR="+addr)
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/api/v1/log")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("log did not restart: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func checkAfterRestart(t *testing.T, base string, logKey any, acks []ack) {
	t.Helper()
	var li struct {
		RootHash       string `json:"rootHash"`
		TreeSize       uint64 `json:"treeSize"`
		SignedTreeHead string `json:"signedTreeHead"`
	}
	getJSON(t, base+"/api/v1/log", &li)
	cp, err := tlog.VerifyCheckpoint([]byte(li.SignedTreeHead), logKey)
	if err != nil {
		t.Fatalf("checkpoint after restart: %v", err)
	}
	for _, a := range acks {
		var m map[string]*rekor.LogEntry
		if code := getJSON(t, base+"/api/v1/log/entries/"+a.uuid, &m); code != http.StatusOK {
			t.Fatalf("acknowledged entry %s (index %d) is missing after restart: %d", a.uuid, a.index, code)
		}
		le := m[a.uuid]
		if le == nil || le.LogIndex != a.index || le.Body != base64.StdEncoding.EncodeToString(a.body) {
			t.Fatalf("acknowledged entry %s moved or changed after restart", a.uuid)
		}
		if a.size > cp.Size {
			t.Fatalf("a checkpoint of size %d was handed out, the log now has %d", a.size, cp.Size)
		}
	}
	// Every checkpoint handed out is a prefix of the current tree.
	seen := map[uint64]bool{}
	for _, a := range acks {
		if seen[a.size] {
			continue
		}
		seen[a.size] = true
		var p struct {
			RootHash string   `json:"rootHash"`
			Hashes   []string `json:"hashes"`
		}
		getJSON(t, fmt.Sprintf("%s/api/v1/log/proof?firstSize=%d&lastSize=%d", base, a.size, cp.Size), &p)
		hashes := make([][]byte, len(p.Hashes))
		for i, h := range p.Hashes {
			hashes[i], _ = hex.DecodeString(h)
		}
		if err := tlog.VerifyConsistency(a.size, cp.Size, hashes, a.root, cp.Hash); err != nil {
			t.Fatalf("checkpoint of size %d handed out before the crash is not consistent with the tree after it: %v", a.size, err)
		}
	}
}

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
	return resp.StatusCode
}
