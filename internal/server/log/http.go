package log

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"

	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/rekor"
)

// Handler serves the Rekor v1 API and the C2SP tlog-tiles read API.
type Handler struct {
	svc          *Service
	maxEntrySize int64
	log          *slog.Logger
	mux          *http.ServeMux
}

// NewHandler returns the HTTP API of svc. Entries larger than maxEntrySize
// bytes are refused with 413.
func NewHandler(svc *Service, maxEntrySize int64, logger *slog.Logger) *Handler {
	if maxEntrySize <= 0 {
		maxEntrySize = rekor.MaxEntrySize
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &Handler{svc: svc, maxEntrySize: maxEntrySize, log: logger, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /api/v1/log/entries", h.createEntry)
	h.mux.HandleFunc("POST /api/v2/log/entries", h.createEntryV2)
	h.mux.HandleFunc("GET /api/v1/log/entries", h.entryByIndex)
	h.mux.HandleFunc("GET /api/v1/log/entries/{uuid}", h.entryByUUID)
	h.mux.HandleFunc("POST /api/v1/log/entries/retrieve", h.retrieveEntries)
	h.mux.HandleFunc("GET /api/v1/log", h.logInfo)
	h.mux.HandleFunc("GET /api/v1/log/publicKey", h.publicKey)
	h.mux.HandleFunc("GET /api/v1/log/proof", h.consistency)
	h.mux.HandleFunc("POST /api/v1/index/retrieve", h.searchIndex)
	h.mux.HandleFunc("GET /checkpoint", h.tilesCheckpoint)
	h.mux.HandleFunc("GET /tile/entries/{index...}", h.tilesEntries)
	h.mux.HandleFunc("GET /tile/{level}/{index...}", h.tilesTile)
	return h
}

// requestTimeout bounds every request, waits for the database included: a
// request that cannot finish in time is answered 503 and never acknowledged.
const requestTimeout = 20 * time.Second

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	bounded := r.WithContext(ctx)
	h.mux.ServeHTTP(w, bounded)
	// The route the mux matched, for the metrics and logs of the server
	// around this handler (internal/httpserve), which see r, not the copy.
	r.Pattern = bounded.Pattern
}

// apiError writes Rekor's error shape: {"code":N,"message":"..."}.
func apiError(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": fmt.Sprintf(format, args...)})
}

// writeJSON answers v as JSON with its length, so the response is written
// in one piece rather than chunked.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "encoding the response: %v", err)
		return
	}
	writeRawJSON(w, code, append(b, '\n'))
}

func writeRawJSON(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// statusFor maps service errors to HTTP statuses.
func (h *Handler) statusFor(w http.ResponseWriter, err error, what string) {
	switch {
	case errors.Is(err, errNoEntry):
		apiError(w, http.StatusNotFound, "%s: no such entry", what)
	case errors.Is(err, errBadRequest), errors.Is(err, rekor.ErrInvalidEntry):
		apiError(w, http.StatusBadRequest, "%s: %v", what, err)
	case errors.Is(err, tessera.ErrPushback):
		w.Header().Set("Retry-After", "1")
		apiError(w, http.StatusServiceUnavailable, "%s: log is overloaded, retry shortly", what)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "1")
		apiError(w, http.StatusServiceUnavailable, "%s: %v", what, err)
	case dbUnavailable(err):
		w.Header().Set("Retry-After", "1")
		h.log.Warn("log database unavailable", "what", what, "err", err)
		apiError(w, http.StatusServiceUnavailable, "%s: the log's database is unavailable or overloaded, retry shortly: %v", what, err)
	default:
		h.log.Error("log request failed", "what", what, "err", err)
		apiError(w, http.StatusInternalServerError, "%s: %v", what, err)
	}
}

// readEntry reads a request body up to the entry size limit, answering 413
// or 400 itself when it cannot.
func (h *Handler) readEntry(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= h.maxEntrySize {
		buf.Grow(int(n) + bytes.MinRead) // read in one buffer, with room to see EOF
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxEntrySize))
	body := buf.Bytes()
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		apiError(w, http.StatusRequestEntityTooLarge, "entry is over the %d byte limit", h.maxEntrySize)
		return nil, false
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "reading entry: %v", err)
		return nil, false
	}
	return body, true
}

func (h *Handler) createEntry(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readEntry(w, r)
	if !ok {
		return
	}
	e, err := rekor.Parse(body)
	if err != nil {
		apiError(w, http.StatusBadRequest, "%v", err)
		return
	}
	uuid, le, err := h.svc.Add(r.Context(), e)
	if errors.Is(err, ErrExists) {
		w.Header().Set("Location", "/api/v1/log/entries/"+uuid)
		apiError(w, http.StatusConflict, "an equivalent entry already exists in the transparency log with UUID %s", uuid)
		return
	}
	if err != nil {
		h.statusFor(w, err, "adding entry")
		return
	}
	w.Header().Set("ETag", uuid)
	w.Header().Set("Location", "/api/v1/log/entries/"+uuid)
	out, err := marshalLogEntry(uuid, le)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "encoding the response: %v", err)
		return
	}
	writeRawJSON(w, http.StatusCreated, append(out, '\n'))
}

// createEntryV2 is Rekor v2's write API: hashedrekord 0.0.2 in, a
// TransparencyLogEntry (protobuf JSON) out, once a checkpoint covers it.
func (h *Handler) createEntryV2(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readEntry(w, r)
	if !ok {
		return
	}
	e, err := rekor.ParseV2Request(body)
	if err != nil {
		apiError(w, http.StatusBadRequest, "%v", err)
		return
	}
	tle, err := h.svc.AddV2(r.Context(), e)
	if errors.Is(err, ErrExists) {
		apiError(w, http.StatusConflict, "an equivalent entry already exists in the transparency log at index %d", tle.GetLogIndex())
		return
	}
	if err != nil {
		h.statusFor(w, err, "adding entry")
		return
	}
	out, err := marshalTLE(tle)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeRawJSON(w, http.StatusCreated, out)
}

func (h *Handler) entryByIndex(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.ParseUint(r.URL.Query().Get("logIndex"), 10, 63)
	if err != nil {
		apiError(w, http.StatusBadRequest, "logIndex %q is not a non-negative integer", r.URL.Query().Get("logIndex"))
		return
	}
	uuid, le, err := h.svc.GetByIndex(r.Context(), i)
	if err != nil {
		h.statusFor(w, err, fmt.Sprintf("entry at index %d", i))
		return
	}
	writeJSON(w, http.StatusOK, map[string]*rekor.LogEntry{uuid: le})
}

func (h *Handler) entryByUUID(w http.ResponseWriter, r *http.Request) {
	uuid, le, err := h.svc.GetByUUID(r.Context(), r.PathValue("uuid"))
	if err != nil {
		h.statusFor(w, err, "entry "+r.PathValue("uuid"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]*rekor.LogEntry{uuid: le})
}

// maxRetrieve caps a retrieve request's list lengths, as Rekor does.
const maxRetrieve = 10

func (h *Handler) retrieveEntries(w http.ResponseWriter, r *http.Request) {
	var q struct {
		EntryUUIDs []string          `json:"entryUUIDs"`
		LogIndexes []int64           `json:"logIndexes"`
		Entries    []json.RawMessage `json:"entries"`
	}
	if !readQuery(w, r, "retrieve query", &q) {
		return
	}
	for _, u := range q.EntryUUIDs {
		if !entryUUIDRE().MatchString(u) {
			apiError(w, http.StatusBadRequest, "entryUUID %q is not 64 or 80 hex digits", truncate(u, 100))
			return
		}
	}
	if len(q.EntryUUIDs)+len(q.LogIndexes)+len(q.Entries) == 0 {
		apiError(w, http.StatusBadRequest, "retrieve needs entryUUIDs, logIndexes or entries")
		return
	}
	if len(q.EntryUUIDs)+len(q.LogIndexes)+len(q.Entries) > maxRetrieve {
		apiError(w, http.StatusUnprocessableEntity, "at most %d entries may be retrieved at once", maxRetrieve)
		return
	}
	out := []map[string]*rekor.LogEntry{}
	add := func(uuid string, le *rekor.LogEntry, err error) bool {
		if errors.Is(err, errNoEntry) {
			return true
		}
		if err != nil {
			h.statusFor(w, err, "retrieving entries")
			return false
		}
		out = append(out, map[string]*rekor.LogEntry{uuid: le})
		return true
	}
	for _, u := range q.EntryUUIDs {
		if !add(h.svc.GetByUUID(r.Context(), u)) {
			return
		}
	}
	for _, i := range q.LogIndexes {
		if i < 0 {
			apiError(w, http.StatusBadRequest, "logIndex %d is negative", i)
			return
		}
		if !add(h.svc.GetByIndex(r.Context(), uint64(i))) {
			return
		}
	}
	for _, raw := range q.Entries {
		e, err := rekor.Parse(raw)
		if err != nil {
			apiError(w, http.StatusBadRequest, "%v", err)
			return
		}
		sum := hex.EncodeToString(leafHash(e.Body))
		if !add(h.svc.GetByUUID(r.Context(), sum)) {
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) logInfo(w http.ResponseWriter, r *http.Request) {
	t, err := h.svc.current(r.Context())
	if err != nil {
		h.statusFor(w, err, "log info")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"rootHash": hex.EncodeToString(t.root), "treeSize": t.size,
		"signedTreeHead": string(t.checkpoint), "treeID": h.svc.TreeID(), "inactiveShards": []any{},
	})
}

func (h *Handler) publicKey(w http.ResponseWriter, r *http.Request) {
	if tid := r.URL.Query().Get("treeID"); tid != "" && tid != h.svc.TreeID() {
		apiError(w, http.StatusBadRequest, "%s is not a valid tree ID and doesn't have an associated public key", tid)
		return
	}
	p, err := keys.MarshalPublicKey(h.svc.PublicKey())
	if err != nil {
		apiError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(p)
}

func (h *Handler) consistency(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	first, err1 := strconv.ParseUint(defaultStr(q.Get("firstSize"), "1"), 10, 63)
	last, err2 := strconv.ParseUint(defaultStr(q.Get("lastSize"), "0"), 10, 63)
	if err1 != nil || err2 != nil {
		apiError(w, http.StatusBadRequest, "firstSize and lastSize must be non-negative integers")
		return
	}
	hashes, root, err := h.svc.ConsistencyProof(r.Context(), first, last)
	if err != nil {
		h.statusFor(w, err, "consistency proof")
		return
	}
	hx := make([]string, len(hashes))
	for i, x := range hashes {
		hx[i] = hex.EncodeToString(x)
	}
	writeJSON(w, http.StatusOK, map[string]any{"rootHash": hex.EncodeToString(root), "hashes": hx})
}

func defaultStr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Rekor's SearchIndex field rules (its OpenAPI schema). The patterns are
// compiled on first use: package initialisation runs in every command.
var (
	searchHashRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(sha512:)?[0-9a-fA-F]{128}$|^(sha256:)?[0-9a-fA-F]{64}$|^(sha1:)?[0-9a-fA-F]{40}$`)
	})
	entryUUIDRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9a-fA-F]{64}|[0-9a-fA-F]{80})$`) })
	searchFormats = map[string]bool{"pgp": true, "x509": true, "minisign": true, "ssh": true, "tuf": true}
)

// maxQuery bounds a search or retrieve request body.
const maxQuery = 1 << 20

// readQuery decodes a bounded JSON query, answering 413 or 400 itself.
func readQuery(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxQuery)).Decode(v)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		apiError(w, http.StatusRequestEntityTooLarge, "%s is over the %d byte limit", what, maxQuery)
		return false
	case err != nil:
		apiError(w, http.StatusBadRequest, "%s: %v", what, err)
		return false
	}
	return true
}

func (h *Handler) searchIndex(w http.ResponseWriter, r *http.Request) {
	var q struct {
		Email     string `json:"email"`
		Hash      string `json:"hash"`
		PublicKey *struct {
			Format  string `json:"format"`
			Content string `json:"content"`
			URL     string `json:"url"`
		} `json:"publicKey"`
		Operator string `json:"operator"`
	}
	if !readQuery(w, r, "search index query", &q) {
		return
	}
	var searchKeys []string
	if q.Email != "" {
		if a, err := mail.ParseAddress(q.Email); err != nil || a.Address != q.Email || len(q.Email) > 254 {
			apiError(w, http.StatusBadRequest, "email %q is not an e-mail address", truncate(q.Email, 80))
			return
		}
		searchKeys = append(searchKeys, "email:"+strings.ToLower(q.Email))
	}
	if q.Hash != "" {
		if !searchHashRE().MatchString(q.Hash) {
			apiError(w, http.StatusBadRequest, "hash %q is not a hex SHA-256, SHA-512 or SHA-1 digest (optionally prefixed sha256:, sha512:, sha1:)", truncate(q.Hash, 80))
			return
		}
		hs := strings.ToLower(q.Hash)
		if !strings.Contains(hs, ":") {
			hs = map[int]string{64: "sha256:", 128: "sha512:", 40: "sha1:"}[len(hs)] + hs
		}
		searchKeys = append(searchKeys, hs)
	}
	if pk := q.PublicKey; pk != nil {
		switch {
		case !searchFormats[pk.Format]:
			apiError(w, http.StatusBadRequest, "publicKey.format %q: want pgp, x509, minisign, ssh or tuf", truncate(pk.Format, 40))
			return
		case pk.URL != "":
			apiError(w, http.StatusBadRequest, "publicKey.url: this log does not fetch keys; send publicKey.content")
			return
		case pk.Content == "":
			apiError(w, http.StatusBadRequest, "publicKey.content is missing")
			return
		case pk.Format != "x509":
			apiError(w, http.StatusBadRequest, "publicKey.format %q: this log indexes x509 keys and certificates only", pk.Format)
			return
		}
		k, err := searchKeyForPublicKey(pk.Content)
		if err != nil {
			apiError(w, http.StatusBadRequest, "publicKey: %v", err)
			return
		}
		searchKeys = append(searchKeys, k)
	}
	if op := strings.ToLower(q.Operator); op != "" && op != "and" && op != "or" {
		apiError(w, http.StatusBadRequest, "operator %q: want and or or", truncate(q.Operator, 40))
		return
	}
	if len(searchKeys) == 0 {
		apiError(w, http.StatusBadRequest, "search needs an email, a hash or a publicKey")
		return
	}
	result, err := h.combine(r.Context(), searchKeys, strings.ToLower(q.Operator) == "and")
	if err != nil {
		h.statusFor(w, err, "searching the index")
		return
	}
	writeJSON(w, http.StatusOK, result)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (h *Handler) combine(ctx context.Context, searchKeys []string, and bool) ([]string, error) {
	counts := map[string]int{}
	var order []string
	for _, k := range searchKeys {
		uuids, err := h.svc.Search(ctx, k)
		if err != nil {
			return nil, err
		}
		for _, u := range uuids {
			u = h.svc.EntryIDFor(u)
			if counts[u] == 0 {
				order = append(order, u)
			}
			counts[u]++
		}
	}
	out := []string{}
	for _, u := range order {
		if !and || counts[u] == len(searchKeys) {
			out = append(out, u)
		}
	}
	return out, nil
}

// searchKeyForPublicKey accepts a base64 PEM (Rekor's form) or a raw PEM.
func searchKeyForPublicKey(content string) (string, error) {
	data := []byte(content)
	if dec, err := base64.StdEncoding.DecodeString(content); err == nil {
		data = dec
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "", errors.New("not a PEM public key or certificate")
	}
	var pub any
	switch block.Type {
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", err
		}
		pub = c.PublicKey
	default:
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return "", err
		}
		pub = k
	}
	return rekor.KeyFingerprint(pub)
}

// tlog-tiles read API: the published checkpoint (signed by the log key and
// the C2SP Ed25519 note key), hash tiles and entry bundles.
func (h *Handler) tilesCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := h.svc.reader.ReadCheckpoint(r.Context())
	if err != nil {
		apiError(w, http.StatusNotFound, "no checkpoint published yet")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(cp)
}

func (h *Handler) tilesTile(w http.ResponseWriter, r *http.Request) {
	level, index, p, err := layout.ParseTileLevelIndexPartial(r.PathValue("level"), r.PathValue("index"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "tile path: %v", err)
		return
	}
	b, err := h.svc.readTile(r.Context(), level, index, p)
	h.writeResource(w, b, err)
}

func (h *Handler) tilesEntries(w http.ResponseWriter, r *http.Request) {
	index, p, err := layout.ParseTileIndexPartial(r.PathValue("index"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "entry bundle path: %v", err)
		return
	}
	b, err := h.svc.reader.ReadEntryBundle(r.Context(), index, p)
	h.writeResource(w, b, err)
}

func (h *Handler) writeResource(w http.ResponseWriter, b []byte, err error) {
	if err != nil {
		apiError(w, http.StatusNotFound, "no such resource")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "max-age=31536000, immutable")
	_, _ = w.Write(b)
}
