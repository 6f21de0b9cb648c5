package ct

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	ctgo "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/ctonly"
)

// AddPreChain submits a chain to this log in-process, through TesseraCT's
// own handler (the same validation and sequencing as over HTTP, without the
// network). The SCT is returned unchecked, as from a remote log.
func (l *Log) AddPreChain(ctx context.Context, chain [][]byte) (*ctgo.SignedCertificateTimestamp, error) {
	body, err := json.Marshal(ctgo.AddChainRequest{Chain: chain})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://hallmark.local"+ctgo.AddPreChainPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	l.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("CT log refused the precertificate (%d): %s", rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
	}
	var r ctgo.AddChainResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("CT log answer: %w", err)
	}
	return r.ToSignedCertificateTimestamp()
}

// LogPrecert logs a precertificate made by the CA in this process and
// returns how to sign its SCT. The CA hands over what TesseraCT would otherwise work out
// from the submitted chain: the TBS without the poison and the issuer. The
// entry is TesseraCT's (ctonly.Entry, through its CT storage), so the log
// holds exactly what add-pre-chain would have written; the SCT carries the
// leaf_index extension and is signed with the log's key as TesseraCT signs.
//
// It returns as soon as the journal has given the entry its index, so that
// the SCT can be signed while the entry is synced: durable waits for the
// sync (and makes it, on the caller's goroutine, when the journal was idle;
// see journal.Sequence), and neither the SCT nor anything carrying it may
// leave the process before durable returns nil.
func (l *Log) LogPrecert(ctx context.Context, precert, tbs []byte, issuer *x509.Certificate) (sct func() (*ctgo.SignedCertificateTimestamp, error), durable func() error, err error) {
	if l.storage == nil {
		return nil, nil, errors.New("ct: the log's storage is not open")
	}
	if err := l.knownIssuer(ctx, issuer); err != nil {
		return nil, nil, err
	}
	ikh := sha256.Sum256(issuer.RawSubjectPublicKeyInfo)
	e := &ctonly.Entry{
		Timestamp: uint64(time.Now().UnixMilli()), IsPrecert: true, Certificate: tbs, Precertificate: precert,
		IssuerKeyHash: ikh[:], FingerprintsChain: [][32]byte{sha256.Sum256(issuer.Raw)},
	}
	var seq sequenced
	if _, err := l.storage.Add(context.WithValue(ctx, sequencedKey{}, &seq), e); err != nil {
		return nil, nil, fmt.Errorf("ct: sequencing the precertificate: %w", err)
	}
	if !seq.set { // Open fails when the journal does not open, so every add goes through it
		return nil, nil, errors.New("ct: the precertificate did not reach the log's journal")
	}
	idx, durable, err := seq.idx, seq.durable, seq.err
	if err != nil {
		return nil, nil, fmt.Errorf("ct: sequencing the precertificate: %w", err)
	}
	if idx.IsDup {
		return nil, nil, errors.New("ct: this precertificate is already in the log")
	}
	leaf := e.MerkleTreeLeaf(idx.Index)
	return func() (*ctgo.SignedCertificateTimestamp, error) {
		// The SCT signs the same bytes as the Merkle tree leaf (RFC 6962
		// §3.2): version, type, timestamp, the precertificate entry, the
		// extensions.
		sum := sha256.Sum256(leaf)
		sig, err := l.signer.Sign(rand.Reader, sum[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("ct: signing the SCT: %w", err)
		}
		return &ctgo.SignedCertificateTimestamp{
			SCTVersion: ctgo.V1, LogID: ctgo.LogID{KeyID: l.logID}, Timestamp: e.Timestamp,
			Extensions: ctgo.CTExtensions(leafIndexExtension(idx.Index)),
			Signature: ctgo.DigitallySigned{
				Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA},
				Signature: sig,
			},
		}, nil
	}, durable, nil
}

// sequenced is what the journal said of an entry LogPrecert added: its
// index at once, and how to wait for its sync. LogPrecert passes one down
// through TesseraCT's storage in the context, which the log's add fills.
type sequenced struct {
	idx     tessera.Index
	durable func() error
	err     error
	set     bool
}

type sequencedKey struct{}

// leafIndexExtension is static-ct-api's SCT extension naming the entry's
// index: type 0, length 5, the index in 40 bits.
func leafIndexExtension(idx uint64) []byte {
	return []byte{0, 0, 5, byte(idx >> 32), byte(idx >> 24), byte(idx >> 16), byte(idx >> 8), byte(idx)}
}

// knownIssuer stores an issuer for readers once.
func (l *Log) knownIssuer(ctx context.Context, issuer *x509.Certificate) error {
	id := sha256.Sum256(issuer.Raw)
	if _, ok := l.issuers.Load(id); ok {
		return nil
	}
	if err := l.storage.AddIssuerChain(ctx, []*x509.Certificate{issuer}); err != nil {
		return fmt.Errorf("ct: storing the issuer: %w", err)
	}
	l.issuers.Store(id, true)
	return nil
}
