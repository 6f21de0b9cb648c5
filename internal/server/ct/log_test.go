package ct

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ctgo "github.com/google/certificate-transparency-go"
	ctclient "github.com/google/certificate-transparency-go/client"
	"github.com/google/certificate-transparency-go/ctutil"
	"github.com/google/certificate-transparency-go/jsonclient"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/internal/server/journal"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/pki"
)

func TestMain(m *testing.M) {
	hallmarktest.QuietKlog()
	m.Run()
}

type fixture struct {
	log   *Log
	srv   *httptest.Server
	chain []*x509.Certificate // CA: intermediate, root
	caKey crypto.Signer
	dir   string
}

func open(t *testing.T) *fixture {
	t.Helper()
	chain, key, _, err := pki.LoadOrCreateCA(t.TempDir(), pki.CASpec{Organization: "T", CommonName: "T CA", Intermediate: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := keys.Generate()
	dir := t.TempDir()
	l, err := Open(context.Background(), Config{Dir: dir, Signer: signer, Origin: "test.example/ct", Roots: chain[1:], CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	return &fixture{log: l, srv: srv, chain: chain, caKey: key, dir: dir}
}

var poison = pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}, Critical: true, Value: []byte{5, 0}}

func (f *fixture) precert(t *testing.T, withPoison bool) *x509.Certificate {
	t.Helper()
	k, _ := keys.Generate()
	tmpl := &x509.Certificate{NotBefore: time.Now(), NotAfter: time.Now().Add(10 * time.Minute), EmailAddresses: []string{"a@example.com"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	if withPoison {
		tmpl.ExtraExtensions = []pkix.Extension{poison}
	}
	c, err := pki.Issue(tmpl, f.chain[0], k.Public(), f.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAddPreChainSCTVerifies(t *testing.T) {
	f := open(t)
	pre := f.precert(t, true)
	c, err := ctclient.New(f.srv.URL, &http.Client{}, jsonclient.Options{PublicKeyDER: mustDER(t, f.log.PublicKey())})
	if err != nil {
		t.Fatal(err)
	}
	sct, err := c.AddPreChain(context.Background(), []ctgo.ASN1Cert{{Data: pre.Raw}, {Data: f.chain[0].Raw}, {Data: f.chain[1].Raw}})
	if err != nil {
		t.Fatal(err)
	}
	if id := f.log.LogID(); !bytes.Equal(sct.LogID.KeyID[:], id[:]) {
		t.Errorf("SCT log ID %x, want %x", sct.LogID.KeyID, id)
	}
	// The SCT verifies over the final certificate (precertificate without
	// the poison, SCT list added), as verifiers check an embedded SCT.
	raw, _ := cttls.Marshal(*sct)
	list, _ := cttls.Marshal(ctx509.SignedCertificateTimestampList{SCTList: []ctx509.SerializedSCT{{Val: raw}}})
	val, _ := asn1.Marshal(list)
	tmpl := *pre
	tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}, Value: val}}
	var exts []pkix.Extension
	for _, e := range pre.Extensions {
		if !e.Id.Equal(poison.Id) && !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) && !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 15}) &&
			!e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 37}) && !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 14}) && !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 35}) {
			exts = append(exts, e)
		}
	}
	tmpl.ExtraExtensions = append(exts, tmpl.ExtraExtensions...)
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, f.chain[0], pre.PublicKey, f.caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := ctx509.ParseCertificate(der)
	issuer, _ := ctx509.ParseCertificate(f.chain[0].Raw)
	if err := ctutil.VerifySCT(f.log.PublicKey(), []*ctx509.Certificate{leaf, issuer}, sct, true); err != nil {
		t.Errorf("embedded SCT does not verify: %v", err)
	}
	// A checkpoint is published for readers.
	time.Sleep(300 * time.Millisecond)
	resp, err := http.Get(f.srv.URL + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(cp), "test.example/ct\n") {
		t.Errorf("checkpoint: %d %q", resp.StatusCode, cp)
	}
}

func TestBadInput(t *testing.T) {
	f := open(t)
	other, _, _, _ := pki.LoadOrCreateCA(t.TempDir(), pki.CASpec{Organization: "X", CommonName: "X"})
	b64 := func(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }
	chain := func(certs ...string) string {
		b, _ := json.Marshal(map[string][]string{"chain": certs})
		return string(b)
	}
	pre, plain := f.precert(t, true), f.precert(t, false)
	for _, c := range []struct {
		name, method, path, body string
		want                     int
		reason                   string
	}{
		{"not JSON", "POST", "/ct/v1/add-pre-chain", "{", 400, ""},
		{"empty chain", "POST", "/ct/v1/add-pre-chain", chain(), 400, "empty"},
		{"not DER", "POST", "/ct/v1/add-pre-chain", chain("AAAA"), 400, ""},
		{"no poison on add-pre-chain", "POST", "/ct/v1/add-pre-chain", chain(b64(plain), b64(f.chain[0])), 400, ""},
		{"precert on add-chain", "POST", "/ct/v1/add-chain", chain(b64(pre), b64(f.chain[0])), 400, ""},
		{"chain to another root", "POST", "/ct/v1/add-pre-chain", chain(b64(pre), b64(other[0])), 400, ""},
		{"GET on a POST endpoint", "GET", "/ct/v1/add-pre-chain", "", 405, ""},
	} {
		req, _ := http.NewRequest(c.method, f.srv.URL+c.path, strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || !strings.Contains(string(b), c.reason) {
			t.Errorf("%s: %d %.200s, want %d", c.name, resp.StatusCode, b, c.want)
		}
	}
}

func mustDER(t *testing.T, pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// The same precertificate sent twice gets the first SCT's index and time
// (the journal hands out indices and remembers recent entries).
func TestAddPreChainDuplicate(t *testing.T) {
	f := open(t)
	pre := f.precert(t, true)
	c, err := ctclient.New(f.srv.URL, &http.Client{}, jsonclient.Options{PublicKeyDER: mustDER(t, f.log.PublicKey())})
	if err != nil {
		t.Fatal(err)
	}
	chain := []ctgo.ASN1Cert{{Data: pre.Raw}, {Data: f.chain[0].Raw}, {Data: f.chain[1].Raw}}
	first, err := c.AddPreChain(t.Context(), chain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddPreChain(t.Context(), []ctgo.ASN1Cert{{Data: f.precert(t, true).Raw}, {Data: f.chain[0].Raw}}); err != nil {
		t.Fatal(err)
	}
	again, err := c.AddPreChain(t.Context(), chain)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Extensions, again.Extensions) || first.Timestamp != again.Timestamp {
		t.Errorf("duplicate SCT: index %x at %d, want %x at %d", again.Extensions, again.Timestamp, first.Extensions, first.Timestamp)
	}
}

// A log whose journal has stopped is not ready, so a load balancer sends
// its submissions elsewhere and an operator sees why.
func TestReadyReportsAStoppedJournal(t *testing.T) {
	f := open(t)
	if err := f.log.Ready(t.Context()); err != nil {
		t.Fatalf("new log not ready: %v", err)
	}
	// The disk refuses the journal: its directory is gone, a file in its
	// place.
	jdir := filepath.Join(f.dir, "journal")
	if err := os.RemoveAll(jdir); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, jdir, nil)
	// The entry has its index, so the SCT can be signed; durable says the sync
	// failed, and the CA hands out nothing.
	sct, durable, err := f.log.LogPrecert(t.Context(), f.precert(t, true).Raw, []byte("tbs"), f.chain[0])
	if err == nil && (sct == nil || durable() == nil) {
		t.Error("a journal that could not be written held the precertificate")
	}
	if err := f.log.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "ct: writing the journal") {
		t.Errorf("Ready after the journal stopped: %v", err)
	}
	// The disk is back; the journal stays stopped.
	if err := os.Remove(jdir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(jdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := logPrecert(t, f.log, f.precert(t, true).Raw, f.chain[0]); err == nil {
		t.Error("a stopped journal gave an SCT")
	}
	if err := f.log.Ready(t.Context()); err == nil {
		t.Error("a stopped journal is ready again")
	}
}

func mustWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// After a crash between acknowledging entries and Tessera integrating them,
// the next start hands them to Tessera under the indices the SCTs carry.
func TestJournalReplaysAfterCrash(t *testing.T) {
	f := open(t)
	dir := f.dir
	for range 3 {
		if _, err := logPrecert(t, f.log, f.precert(t, true).Raw, f.chain[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.log.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A second process acknowledges three more, then dies before Tessera
	// sees them.
	hold := make(chan struct{})
	crashed := openJournalBeside(t, dir, 3, hold)
	t.Cleanup(func() { close(hold) })
	want := map[uint64][]byte{}
	for i := range 3 {
		idx := resolve(t, crashed.Add(t.Context(), tesseraCTEntry(testEntry(i, true))))
		want[idx.Index] = tesseraCTEntry(testEntry(i, true)).MarshalBundleData(idx.Index)
	}

	l, err := Open(t.Context(), Config{Dir: dir, Signer: f.log.signer, Origin: "test.example/ct", Roots: f.chain[1:], CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if n, err := l.reader.IntegratedSize(t.Context()); err != nil || n != 6 {
		t.Fatalf("log holds %d entries after restart (%v), want 6", n, err)
	}
	bundle, err := l.reader.ReadEntryBundle(t.Context(), 0, layout.PartialTileSize(0, 0, 6))
	if err != nil {
		t.Fatal(err)
	}
	for idx, data := range want {
		if !bytes.Contains(bundle, data) {
			t.Errorf("entry %d is not in the log as acknowledged", idx)
		}
	}
	// A replayed entry sent again is a duplicate of itself; new entries
	// follow the replayed ones.
	if again := resolve(t, l.journal.Add(t.Context(), tesseraCTEntry(testEntry(1, true)))); !again.IsDup || again.Index != 4 {
		t.Errorf("replayed entry sent again: %+v, want a duplicate at 4", again)
	}
	sct, err := logPrecert(t, l, f.precert(t, true).Raw, f.chain[0])
	if err != nil {
		t.Fatal(err)
	}
	if idx := sctIndex(t, sct.Extensions); idx != 6 {
		t.Errorf("next SCT carries index %d, want 6", idx)
	}
}

// A journal that cannot be opened is Open's error, not the end of the
// process (TesseraCT exits when its storage fails).
func TestOpenRefusesALossyJournal(t *testing.T) {
	f := open(t)
	if err := f.log.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Another process's journal acknowledged entry 2 of a log holding 2.
	j := openJournalBeside(t, f.dir, 2, nil)
	resolve(t, j.Add(t.Context(), tesseraCTEntry(testEntry(2, true))))
	if err := j.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), Config{Dir: f.dir, Signer: f.log.signer, Origin: "test.example/ct", Roots: f.chain[1:]})
	if err == nil || !strings.Contains(err.Error(), "entries 0 to 1 were acknowledged and are lost") {
		t.Fatalf("Open: %v", err)
	}
}

// SIGTERM cancels the context the log was opened with; Close still hands
// Tessera what was acknowledged.
func TestCloseAfterCancelHandsOverTheBacklog(t *testing.T) {
	f := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := Open(ctx, Config{Dir: t.TempDir(), Signer: f.log.signer, Origin: "test.example/ct", Roots: f.chain[1:]})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := logPrecert(t, l, f.precert(t, true).Raw, f.chain[0]); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	if err := l.Close(cctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if b := l.journal.Backlog(); b != 0 {
		t.Errorf("backlog %d after Close", b)
	}
}

func sctIndex(t *testing.T, ext []byte) uint64 {
	t.Helper()
	if len(ext) != 8 || ext[0] != 0 || ext[1] != 0 || ext[2] != 5 {
		t.Fatalf("SCT extensions %x: no leaf_index", ext)
	}
	var idx uint64
	for _, b := range ext[3:] {
		idx = idx<<8 | uint64(b)
	}
	return idx
}

// openJournalBeside opens a journal in a CT log's directory, as the log
// does, in front of a stand-in for Tessera holding size entries: it puts
// each entry it takes at the end, its futures resolving once hold is closed
// (nil: at once).
func openJournalBeside(t *testing.T, dir string, size uint64, hold chan struct{}) *journal.Journal {
	t.Helper()
	var mu sync.Mutex
	add := func(context.Context, *tessera.Entry) tessera.IndexFuture {
		mu.Lock()
		idx := size
		size++
		mu.Unlock()
		return func() (tessera.Index, error) {
			if hold != nil {
				<-hold
			}
			return tessera.Index{Index: idx}, nil
		}
	}
	sizeFn := func(context.Context) (uint64, error) {
		mu.Lock()
		defer mu.Unlock()
		return size, nil
	}
	j, err := journal.Open(journal.Config{Dir: filepath.Join(dir, "journal"), Name: "ct", Size: size, SizeFn: sizeFn, Add: add, Decode: decodeTileLeaf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = j.Close(ctx)
	})
	return j
}

func resolve(t *testing.T, f tessera.IndexFuture) tessera.Index {
	t.Helper()
	idx, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// logPrecert logs a precertificate in-process and waits for it to be
// durable, as the CA does before answering.
func logPrecert(t *testing.T, l *Log, precert []byte, issuer *x509.Certificate) (*ctgo.SignedCertificateTimestamp, error) {
	t.Helper()
	sct, durable, err := l.LogPrecert(t.Context(), precert, []byte("tbs"), issuer)
	if err != nil {
		return nil, err
	}
	if err := durable(); err != nil {
		return nil, err
	}
	return sct()
}
