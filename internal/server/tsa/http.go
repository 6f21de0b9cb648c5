package tsa

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"hallmark.dev/hallmark/pkg/pki"
	"hallmark.dev/hallmark/pkg/tsa"
)

// maxRequest bounds a request body: a TimeStampReq with a SHA-512 imprint,
// a nonce, a policy and extensions is well under this.
const maxRequest = 16 << 10

// Handler is the HTTP API of a timestamp authority.
type Handler struct {
	a     *tsa.Authority
	log   *slog.Logger
	chain []byte
	mux   *http.ServeMux
}

// NewHandler serves a.
func NewHandler(a *tsa.Authority, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{a: a, log: logger, chain: pki.EncodeCertificates(a.Chain()...), mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /api/v1/timestamp", h.timestamp)
	h.mux.HandleFunc("GET /api/v1/timestamp/certchain", h.certChain)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// apiError writes the error shape of sigstore's services: {"code":N,"message":"..."}.
func apiError(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": fmt.Sprintf(format, args...)})
}

func (h *Handler) timestamp(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		apiError(w, http.StatusRequestEntityTooLarge, "time-stamp request is over the %d byte limit", maxRequest)
		return
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "reading the time-stamp request: %v", err)
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var req *tsa.Request
	switch ct {
	case "application/timestamp-query", "application/timestamp-request":
		req, err = tsa.ParseDER(body)
	case "application/json":
		req, err = tsa.ParseJSON(body)
	default:
		apiError(w, http.StatusUnsupportedMediaType, "Content-Type %q: want application/timestamp-query or application/json", ct)
		return
	}
	if err == nil {
		var resp []byte
		if resp, err = h.a.Stamp(req); err == nil {
			w.Header().Set("Content-Type", "application/timestamp-reply")
			w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
			w.WriteHeader(http.StatusOK) // timestamp-authority's default since v2
			_, _ = w.Write(resp)
			return
		}
	}
	var (
		re *tsa.RequestError
		ue *tsa.UnavailableError
	)
	if errors.As(err, &re) {
		apiError(w, http.StatusBadRequest, "%v", re)
		return
	}
	if errors.As(err, &ue) {
		h.log.Error("time-stamping refused", "err", err)
		apiError(w, http.StatusServiceUnavailable, "%v", ue)
		return
	}
	h.log.Error("time-stamping failed", "err", err)
	apiError(w, http.StatusInternalServerError, "%v", err)
}

func (h *Handler) certChain(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/pem-certificate-chain")
	w.Header().Set("Content-Length", strconv.Itoa(len(h.chain)))
	_, _ = w.Write(h.chain)
}
