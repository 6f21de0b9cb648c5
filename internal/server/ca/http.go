package ca

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"hallmark.dev/hallmark/pkg/ca"
)

// maxBody is Fulcio's request size limit (4 MiB).
const maxBody = 4 << 20

// gRPC status codes Fulcio's gateway puts in its error bodies.
const (
	codeInvalidArgument = 3
	codeInternal        = 13
	codeUnavailable     = 14
	codeUnauthenticated = 16
)

// Handler is Fulcio's REST API over a CA.
type Handler struct {
	ca  *ca.CA
	log *slog.Logger
	mux *http.ServeMux

	trustBundle, configuration, rootCert []byte
	chainPEM                             []string // the CA's chain, trimmed PEM
}

// NewHandler serves c.
func NewHandler(c *ca.CA, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{ca: c, log: logger, mux: http.NewServeMux()}
	h.trustBundle, _ = json.Marshal(map[string]any{"chains": []certChain{{Certificates: pemStrings(c.Chain(), false)}}})
	h.configuration, _ = json.Marshal(map[string]any{"issuers": configuration(c.Issuers())})
	h.rootCert = []byte(strings.Join(pemStrings(c.Chain(), true), "\n"))
	h.chainPEM = pemStrings(c.Chain(), true)
	h.mux.HandleFunc("POST /api/v2/signingCert", h.signingCert)
	h.mux.HandleFunc("GET /api/v2/trustBundle", h.static(h.trustBundle, "application/json"))
	h.mux.HandleFunc("GET /api/v2/configuration", h.static(h.configuration, "application/json"))
	h.mux.HandleFunc("POST /api/v1/signingCert", h.signingCertV1)
	h.mux.HandleFunc("GET /api/v1/rootCert", h.static(h.rootCert, "application/pem-certificate-chain"))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) static(body []byte, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
}

// apiError writes the gateway's error shape.
func apiError(w http.ResponseWriter, status, code int, format string, args ...any) {
	b, _ := json.Marshal(map[string]any{"code": code, "message": fmt.Sprintf(format, args...), "details": []any{}})
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// fail answers an error from the CA with its status.
func (h *Handler) fail(w http.ResponseWriter, err error) {
	var (
		te *ca.TokenError
		ie *ca.IdentityError
		re *ca.RequestError
		ue *ca.IssuerUnavailableError
		ce *ca.CTError
	)
	switch {
	case errors.As(err, &te):
		apiError(w, http.StatusUnauthorized, codeUnauthenticated, "%v", err)
	case errors.As(err, &ie), errors.As(err, &re):
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "%v", err)
	case errors.As(err, &ue), errors.As(err, &ce):
		h.log.Warn("certificate not issued", "err", err)
		apiError(w, http.StatusServiceUnavailable, codeUnavailable, "%v", err)
	default:
		h.log.Error("certificate not issued", "err", err)
		apiError(w, http.StatusInternalServerError, codeInternal, "%v", err)
	}
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		apiError(w, http.StatusRequestEntityTooLarge, codeInvalidArgument, "request is over the %d byte limit", maxBody)
		return nil, false
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "reading the request: %v", err)
		return nil, false
	}
	return buf.Bytes(), true
}

func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

func (h *Handler) signingCert(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var in signingCertRequest
	if err := json.Unmarshal(body, &in); err != nil {
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "request body is not a CreateSigningCertificateRequest: %v", err)
		return
	}
	req := ca.Request{Token: bearer(r)}
	if in.Credentials != nil {
		if t := first(in.Credentials.Token, in.Credentials.TokenPB); t != "" {
			req.Token = t // a token in the body wins over the header, as in Fulcio
		}
	}
	if req.Token == "" {
		apiError(w, http.StatusUnauthorized, codeUnauthenticated, "no identity token: send it as Authorization: Bearer or credentials.oidcIdentityToken")
		return
	}
	pkr := first(in.PublicKeyRequest, in.PublicKeyReqPB)
	csr := first(in.CSR, in.CSRPB)
	switch {
	case pkr != nil && csr != nil:
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "send publicKeyRequest or certificateSigningRequest, not both")
		return
	case csr != nil:
		pemCSR, err := decodeB64(*csr)
		if err != nil {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "certificateSigningRequest is not base64: %v", err)
			return
		}
		c, msg := parseCSR(pemCSR)
		if c == nil {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "%s", msg)
			return
		}
		req.CSR = c
	case pkr != nil:
		pk := first(pkr.PublicKey, pkr.PubKeyPB)
		if pk == nil || pk.Content == "" {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "publicKeyRequest.publicKey.content is missing")
			return
		}
		pub, err := parsePublicKey([]byte(pk.Content))
		if err != nil {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "the public key supplied in the request could not be parsed: %v", err)
			return
		}
		proof, err := decodeB64(first(pkr.Proof, pkr.ProofPB))
		if err != nil {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "proofOfPossession is not base64: %v", err)
			return
		}
		req.PublicKey, req.Proof = pub, proof
	default:
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "the request needs publicKeyRequest or certificateSigningRequest")
		return
	}
	out, err := h.ca.Issue(r.Context(), req)
	if err != nil {
		h.fail(w, err)
		return
	}
	var resp signingCertResponse
	chain := certChain{Certificates: h.withLeaf(out.Leaf)}
	if out.Embedded {
		resp.Embedded = &embeddedSCT{Chain: chain}
	} else {
		resp.Detached = &detachedSCT{Chain: chain}
	}
	b, _ := json.Marshal(resp)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// signingCertV1 is Fulcio's legacy API: base64 key and signed subject in,
// 201 with a PEM chain out.
func (h *Handler) signingCertV1(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var in struct {
		PublicKey *struct {
			Content   string `json:"content"`
			Algorithm string `json:"algorithm"`
		} `json:"publicKey"`
		SignedEmailAddress string `json:"signedEmailAddress"`
		CSR                string `json:"certificateSigningRequest"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "request body is not a CertificateRequest: %v", err)
		return
	}
	req := ca.Request{Token: bearer(r)}
	if req.Token == "" {
		apiError(w, http.StatusUnauthorized, codeUnauthenticated, "no identity token: send it as Authorization: Bearer")
		return
	}
	switch {
	case in.CSR != "":
		pemCSR, err := decodeB64(in.CSR)
		if err != nil {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "certificateSigningRequest is not base64: %v", err)
			return
		}
		c, msg := parseCSR(pemCSR)
		if c == nil {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "%s", msg)
			return
		}
		req.CSR = c
	case in.PublicKey != nil:
		content, err := decodeB64(in.PublicKey.Content)
		if err != nil {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "publicKey.content is not base64: %v", err)
			return
		}
		pub, err := parsePublicKey(content)
		if err != nil {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "the public key supplied in the request could not be parsed: %v", err)
			return
		}
		proof, err := decodeB64(in.SignedEmailAddress)
		if err != nil {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "signedEmailAddress is not base64: %v", err)
			return
		}
		req.PublicKey, req.Proof = pub, proof
	default:
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "the request needs publicKey or certificateSigningRequest")
		return
	}
	out, err := h.ca.Issue(r.Context(), req)
	if err != nil {
		h.fail(w, err)
		return
	}
	b := []byte(strings.Join(h.withLeaf(out.Leaf), "\n"))
	w.Header().Set("Content-Type", "application/pem-certificate-chain")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(b)
}

// withLeaf is the chain an answer carries: the new certificate, then the CA's.
func (h *Handler) withLeaf(der []byte) []string {
	return append([]string{certPEM(der)}, h.chainPEM...)
}

// certPEM is der as a PEM CERTIFICATE block without the final newline:
// what encoding/pem writes (TestCertPEMMatchesEncodingPEM), in one
// allocation rather than its line-by-line growth.
func certPEM(der []byte) string {
	const begin, end = "-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----"
	n := base64.StdEncoding.EncodedLen(len(der))
	var b strings.Builder
	b.Grow(len(begin) + n + (n+63)/64 + len(end))
	b.WriteString(begin)
	line := make([]byte, 64)
	for len(der) > 0 {
		chunk := der[:min(len(der), 48)] // 48 bytes make one 64-character line
		der = der[len(chunk):]
		m := base64.StdEncoding.EncodedLen(len(chunk))
		base64.StdEncoding.Encode(line, chunk)
		b.Write(line[:m])
		b.WriteByte('\n')
	}
	b.WriteString(end)
	return b.String()
}
