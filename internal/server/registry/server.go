package registry

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// maxManifestSize caps a manifest PUT, as distribution does (4 MiB).
const maxManifestSize = 4 << 20

// Registry is a persistent OCI registry handler rooted at a data directory.
type Registry struct {
	inner   http.Handler
	journal *journal
	// writeMu orders manifest writes so the journal's order is the order the
	// handler applied them in (a tag moved twice replays to the same end).
	writeMu sync.Mutex
}

// Open returns the registry stored in dir, creating it if needed, with
// every manifest written before replayed. logger may be nil.
func Open(dir string, logger *log.Logger) (*Registry, error) {
	blobs := filepath.Join(dir, "blobs")
	if err := os.MkdirAll(blobs, 0o700); err != nil {
		return nil, fmt.Errorf("creating registry data directory: %w", err)
	}
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	inner := ggcr.New(
		ggcr.WithReferrersSupport(true),
		ggcr.WithBlobHandler(ggcr.NewDiskBlobHandler(blobs)),
		ggcr.Logger(logger),
	)
	j, recs, err := openJournal(filepath.Join(dir, "manifests.jsonl"))
	if err != nil {
		return nil, err
	}
	if err := replay(inner, recs); err != nil {
		j.close()
		return nil, err
	}
	return &Registry{inner: inner, journal: j}, nil
}

// Close releases the journal file.
func (r *Registry) Close() error { return r.journal.close() }

// ServeHTTP serves the distribution API. Manifest writes and deletes are
// journaled (and fsynced) before they are acknowledged.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if repo, ok := referrersPath(req.URL.Path); ok && req.Method == http.MethodGet {
		r.serveReferrers(w, req, repo)
		return
	}
	repo, ref, ok := manifestPath(req.URL.Path)
	if !ok || (req.Method != http.MethodPut && req.Method != http.MethodDelete) {
		r.inner.ServeHTTP(w, req)
		return
	}
	var body []byte
	if req.Method == http.MethodPut {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxManifestSize+1))
		if err != nil {
			http.Error(w, "reading manifest: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(b) > maxManifestSize {
			writeError(w, http.StatusRequestEntityTooLarge, "MANIFEST_INVALID", fmt.Sprintf("manifest is over %d bytes", maxManifestSize))
			return
		}
		if msg := digestMismatch(ref, b); msg != "" {
			writeError(w, http.StatusBadRequest, "DIGEST_INVALID", msg)
			return
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, req)
	if rec.Code < 300 {
		jr := record{Op: "delete", Repo: repo, Ref: ref}
		if req.Method == http.MethodPut {
			jr = record{Op: "put", Repo: repo, Ref: ref, ContentType: req.Header.Get("Content-Type"), Body: body}
		}
		if err := r.journal.append(jr); err != nil {
			writeError(w, http.StatusInternalServerError, "UNKNOWN", "persisting manifest: "+err.Error())
			return
		}
	}
	copyRecorder(w, rec)
}

// manifestPath splits /v2/<repo>/manifests/<ref>.
func manifestPath(p string) (repo, ref string, ok bool) {
	rest, found := strings.CutPrefix(p, "/v2/")
	if !found {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	repo, ref = rest[:i], rest[i+len("/manifests/"):]
	if ref == "" || strings.Contains(ref, "/") {
		return "", "", false
	}
	return repo, ref, true
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

// digestMismatch says why a manifest PUT by digest does not hash to that
// digest ("" when it does, or when ref is a tag): a registry must not store
// content under a name it does not have.
func digestMismatch(ref string, body []byte) string {
	algo, hexDigest, isDigest := strings.Cut(ref, ":")
	if !isDigest {
		return ""
	}
	var sum []byte
	switch algo {
	case "sha256":
		s := sha256.Sum256(body)
		sum = s[:]
	case "sha512":
		s := sha512.Sum512(body)
		sum = s[:]
	default:
		return fmt.Sprintf("digest %q: unsupported algorithm %q (want sha256 or sha512)", ref, algo)
	}
	if want := hex.EncodeToString(sum); hexDigest != want {
		return fmt.Sprintf("manifest content has digest %s:%s, not %s", algo, want, ref)
	}
	return ""
}
