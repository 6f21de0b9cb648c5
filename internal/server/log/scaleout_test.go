package log

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/tlog"
)

// frontend is one `log serve --mysql` process of a scale-out log.
type frontend struct {
	base string
	cmd  *exec.Cmd
}

type scaleOut struct {
	t       *testing.T
	dsn     string
	keyPath string
	key     *ecdsa.PrivateKey
}

func newScaleOut(t *testing.T) *scaleOut {
	dsn := hallmarktest.MariaDB(t, "scaleout")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPath := filepath.Join(t.TempDir(), "log-signer.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &scaleOut{t: t, dsn: dsn, keyPath: keyPath, key: key}
}

// start runs a frontend on an empty data directory.
func (so *scaleOut) start() *frontend {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cmd := startChild(so.t, so.t.TempDir(), addr, "HALLMARK_CRASH_CHILD_MYSQL="+so.dsn, "HALLMARK_CRASH_CHILD_KEY="+so.keyPath)
	so.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return &frontend{base: "http://" + addr, cmd: cmd}
}

type appended struct {
	code     int
	location string
	le       *rekor.LogEntry
	uuid     string
}

var scaleClient = &http.Client{Timeout: 30 * time.Second}

func (f *frontend) append(body []byte) (appended, error) {
	resp, err := scaleClient.Post(f.base+"/api/v1/log/entries", "application/json", bytes.NewReader(body))
	if err != nil {
		return appended{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := appended{code: resp.StatusCode, location: resp.Header.Get("Location")}
	if a.code == http.StatusCreated {
		var m map[string]*rekor.LogEntry
		if err := json.Unmarshal(b, &m); err != nil {
			return a, err
		}
		for u, le := range m {
			a.uuid, a.le = u, le
		}
	} else if a.code != http.StatusConflict {
		return a, fmt.Errorf("append to %s: %d %s", f.base, a.code, b)
	}
	return a, nil
}

// TestScaleOut runs three frontends on one MariaDB (its default limits):
// concurrent appends through all of them, the same entry sent to two at
// once, every acknowledged entry read by index, by UUID and by search
// through every frontend, proofs from one checked against checkpoints from
// another, a frontend SIGKILLed under load, and a new frontend on an empty
// data directory answering at once.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("scale-out test skipped in -short mode")
	}
	so := newScaleOut(t)
	fronts := []*frontend{so.start(), so.start(), so.start()}
	s := newSigner(t)

	var (
		mu   sync.Mutex
		acks []appended
	)
	record := func(a appended) {
		mu.Lock()
		acks = append(acks, a)
		mu.Unlock()
	}
	// Distinct entries through every frontend, and every fourth entry sent
	// to two frontends at once.
	var wg sync.WaitGroup
	for c := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				body := s.entry(t, fmt.Appendf(nil, "scale %d %d", c, i))
				f := fronts[(c+i)%3]
				if i%4 != 0 {
					a, err := f.append(body)
					if err != nil || a.code != http.StatusCreated {
						t.Errorf("append through %s: %v (%d)", f.base, err, a.code)
						return
					}
					record(a)
					continue
				}
				g := fronts[(c+i+1)%3]
				var pair [2]appended
				var errs [2]error
				var pw sync.WaitGroup
				for j, fe := range []*frontend{f, g} {
					pw.Add(1)
					go func() { defer pw.Done(); pair[j], errs[j] = fe.append(body) }()
				}
				pw.Wait()
				if errs[0] != nil || errs[1] != nil {
					t.Errorf("the same entry through two frontends: %v, %v", errs[0], errs[1])
					return
				}
				created, conflicts := 0, 0
				for _, a := range pair {
					switch a.code {
					case http.StatusCreated:
						created++
						record(a)
					case http.StatusConflict:
						conflicts++
					}
				}
				if created != 1 || conflicts != 1 || pair[0].location != pair[1].location {
					t.Errorf("the same entry through two frontends: answers %d (%s) and %d (%s), want one 201 and one 409 naming the same entry",
						pair[0].code, pair[0].location, pair[1].code, pair[1].location)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	checkEverywhere(t, fronts, acks, so.key)

	// SIGKILL one frontend while clients append through all three: the
	// others keep answering, nothing acknowledged is lost.
	stop := make(chan struct{})
	var survivors atomic.Int64
	for c := range 9 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := fronts[c%3]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a, err := f.append(s.entry(t, fmt.Appendf(nil, "kill %d %d", c, i)))
				if f == fronts[2] {
					if err != nil {
						return // killed
					}
				} else if err != nil || a.code != http.StatusCreated {
					t.Errorf("a surviving frontend failed an append: %v (%d)", err, a.code)
					return
				} else {
					survivors.Add(1)
				}
				if a.code == http.StatusCreated {
					record(a)
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	_ = fronts[2].cmd.Process.Signal(syscall.SIGKILL)
	_ = fronts[2].cmd.Wait()
	before := survivors.Load()
	time.Sleep(700 * time.Millisecond)
	close(stop)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if survivors.Load() == before {
		t.Fatal("no append succeeded on the surviving frontends after one was killed")
	}

	// A new frontend on an empty directory answers at once and has it all.
	began := time.Now()
	fresh := so.start()
	t.Logf("a new frontend answered %v after it was started", time.Since(began).Round(time.Millisecond))
	fronts = []*frontend{fronts[0], fronts[1], fresh}
	checkEverywhere(t, fronts, acks, so.key)

	// What the killed frontend sequenced but never indexed is indexed by
	// the others (the children reindex after 1s): every position up to the
	// tree size is readable.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var li struct {
			TreeSize uint64 `json:"treeSize"`
		}
		getJSON(t, fresh.base+"/api/v1/log", &li)
		missing := -1
		for i := uint64(0); i < li.TreeSize; i++ {
			var m map[string]*rekor.LogEntry
			if getJSON(t, fmt.Sprintf("%s/api/v1/log/entries?logIndex=%d", fronts[i%3].base, i), &m) != http.StatusOK {
				missing = int(i)
				break
			}
		}
		if missing < 0 {
			t.Logf("%d acknowledged entries, %d positions, all readable through every frontend", len(acks), li.TreeSize)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log index %d of %d is still not readable", missing, li.TreeSize)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkEverywhere reads every acknowledged entry through every frontend by
// UUID, by index and by search, and checks each creation proof against a
// checkpoint from another frontend.
func checkEverywhere(t *testing.T, fronts []*frontend, acks []appended, logKey *ecdsa.PrivateKey) {
	t.Helper()
	cps := make([]*tlog.Checkpoint, len(fronts))
	for i, f := range fronts {
		var li struct {
			SignedTreeHead string `json:"signedTreeHead"`
		}
		if getJSON(t, f.base+"/api/v1/log", &li) != http.StatusOK {
			t.Fatalf("log info from %s", f.base)
		}
		cp, err := tlog.VerifyCheckpoint([]byte(li.SignedTreeHead), logKey.Public())
		if err != nil {
			t.Fatalf("checkpoint from %s: %v", f.base, err)
		}
		cps[i] = cp
	}
	for n, a := range acks {
		for i, f := range fronts {
			var m map[string]*rekor.LogEntry
			if code := getJSON(t, f.base+"/api/v1/log/entries/"+a.uuid, &m); code != http.StatusOK || m[a.uuid] == nil {
				t.Fatalf("entry %s acknowledged with index %d: %d through %s", a.uuid, a.le.LogIndex, code, f.base)
			}
			if m[a.uuid].LogIndex != a.le.LogIndex || m[a.uuid].Body != a.le.Body {
				t.Fatalf("entry %s read through %s is not what was acknowledged", a.uuid, f.base)
			}
			if n%7 != i { // by index and search for a share of them, through each frontend
				continue
			}
			m = nil
			if code := getJSON(t, fmt.Sprintf("%s/api/v1/log/entries?logIndex=%d", f.base, a.le.LogIndex), &m); code != http.StatusOK || m[a.uuid] == nil {
				t.Fatalf("index %d through %s: %d, want entry %s", a.le.LogIndex, f.base, code, a.uuid)
			}
			body, _ := base64.StdEncoding.DecodeString(a.le.Body)
			b, _ := rekor.ParseBody(body)
			found := search(t, f.base, "sha256:"+hex.EncodeToString(b.Digest))
			if len(found) != 1 || found[0] != a.uuid {
				t.Fatalf("search through %s for entry %s: %v", f.base, a.uuid, found)
			}
		}
		// The creation proof from one frontend, extended to the checkpoint
		// of another.
		other := fronts[n%len(fronts)]
		cp := cps[n%len(fronts)]
		ip := a.le.Verification.InclusionProof
		if err := verifyProof(mustBody(a.le), ip); err != nil {
			t.Fatalf("creation proof of %s: %v", a.uuid, err)
		}
		root, _ := hex.DecodeString(ip.RootHash)
		if uint64(ip.TreeSize) > cp.Size {
			continue // acknowledged after the checkpoint was read
		}
		var p struct {
			Hashes []string `json:"hashes"`
		}
		getJSON(t, fmt.Sprintf("%s/api/v1/log/proof?firstSize=%d&lastSize=%d", other.base, ip.TreeSize, cp.Size), &p)
		if err := tlog.VerifyConsistency(uint64(ip.TreeSize), cp.Size, decodeHashes(t, p.Hashes), root, cp.Hash); err != nil {
			t.Fatalf("creation proof of %s (tree %d) against %s's checkpoint (tree %d): %v", a.uuid, ip.TreeSize, other.base, cp.Size, err)
		}
	}
}

func mustBody(le *rekor.LogEntry) []byte {
	b, _ := base64.StdEncoding.DecodeString(le.Body)
	return b
}

func search(t *testing.T, base, hash string) []string {
	t.Helper()
	q, _ := json.Marshal(map[string]string{"hash": hash})
	resp, err := http.Post(base+"/api/v1/index/retrieve", "application/json", bytes.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("search %s through %s: %d %v", hash, base, resp.StatusCode, err)
	}
	return out
}

// TestScaleOutManyClients sends appends from 256 clients at once to one
// frontend on a MariaDB with its default max_connections (151): the pool
// bound keeps the frontend under it, and no answer is a 5xx.
func TestScaleOutManyClients(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	dsn := hallmarktest.MariaDB(t, "many")
	db, err := OpenMySQL(context.Background(), dsn, 32)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	svc, err := Open(context.Background(), Config{Dir: t.TempDir(), Signer: key, MySQL: db})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(svc, 0, nil))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Close(ctx)
	})
	s := newSigner(t)
	const clients, each = 256, 4
	bodies := make([][][]byte, clients)
	for c := range bodies {
		bodies[c] = s.entries(t, fmt.Sprintf("many %d ", c), each)
	}
	var (
		wg      sync.WaitGroup
		fivexx  atomic.Int64
		created atomic.Int64
		first   atomic.Value
	)
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, b := range bodies[c] {
				resp, err := client.Post(srv.URL+"/api/v1/log/entries", "application/json", bytes.NewReader(b))
				if err != nil {
					t.Error(err)
					return
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode >= 500:
					fivexx.Add(1)
					first.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, msg))
				case resp.StatusCode == http.StatusCreated:
					created.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := fivexx.Load(); n > 0 {
		t.Fatalf("%d of %d appends answered 5xx, first: %v", n, clients*each, first.Load())
	}
	if created.Load() != clients*each {
		t.Fatalf("%d of %d appends created", created.Load(), clients*each)
	}
	if in := db.Stats().MaxOpenConnections; in != 32 {
		t.Fatalf("pool bound %d, want 32", in)
	}
}

// TestSharedIndexRepair removes the index rows of sequenced entries, as a
// frontend killed between sequencing a round and indexing it leaves them:
// the reconciler puts them back once they have been missing long enough.
// A frontend with another key or origin is refused.
func TestSharedIndexRepair(t *testing.T) {
	dsn := hallmarktest.MariaDB(t, "repair")
	db, err := OpenMySQL(context.Background(), dsn, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	svc, err := Open(context.Background(), Config{Dir: t.TempDir(), Signer: key, MySQL: db, ReindexAfter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(svc, 0, nil))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Close(ctx)
	})
	tl := &testLog{svc: svc, srv: srv}
	bodies := tl.appendAll(t, newSigner(t).entries(t, "repair ", 20))
	lost := []uint64{3, 4, 15}
	for _, i := range lost {
		for _, q := range []string{"DELETE FROM `HallmarkPosition` WHERE `log_index` = ?", "DELETE FROM `HallmarkEntry` WHERE `log_index` = ?"} {
			if _, err := db.Exec(q, i); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := db.Exec("UPDATE `HallmarkIndexed` SET `through` = 0"); err != nil {
		t.Fatal(err)
	}
	uuid := svc.EntryID(leafHash(bodies[4]))
	if code := tl.get(t, "/api/v1/log/entries/"+uuid, nil); code != http.StatusNotFound {
		t.Fatalf("entry 4 with its index rows gone: %d, want 404", code)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, i := range lost {
		for tl.get(t, fmt.Sprintf("/api/v1/log/entries?logIndex=%d", i), nil) != http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatalf("log index %d was never reindexed", i)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var m map[string]*rekor.LogEntry
	if code := tl.get(t, "/api/v1/log/entries/"+uuid, &m); code != http.StatusOK || m[uuid].LogIndex != 4 {
		t.Fatalf("entry 4 after repair: %d", code)
	}
	if err := svc.Ready(context.Background()); err != nil {
		t.Fatalf("ready after repair: %v", err)
	}

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := Open(context.Background(), Config{Dir: t.TempDir(), Signer: other, MySQL: db}); err == nil || !strings.Contains(err.Error(), "--signer") {
		t.Fatalf("a frontend with another key: %v, want a refusal naming --signer", err)
	}
	if _, err := Open(context.Background(), Config{Dir: t.TempDir(), Signer: key, MySQL: db, Origin: "elsewhere/log"}); err == nil || !strings.Contains(err.Error(), "--origin") {
		t.Fatalf("a frontend with another origin: %v, want a refusal naming --origin", err)
	}
}
