package sigstoretest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/tlog"
)

// Evidence shapes the log entry and timestamp that come with a signature.
// Zero values give one entry with a SET and an inclusion proof, integrated
// now, and no timestamp.
type Evidence struct {
	IntegratedTime time.Time // default: now
	NoEntry        bool
	NoSET, NoProof bool
	// LogKey signs the SET and checkpoint instead of the instance's log
	// (an unknown log).
	LogKey *ecdsa.PrivateKey
	// Timestamp adds an RFC 3161 timestamp at TimestampTime (default now).
	Timestamp     bool
	TimestampTime time.Time
	// TimestampKey signs the timestamp instead of the instance's TSA key.
	TimestampKey *ecdsa.PrivateKey
	// TimestampSigner signs (and is embedded in) the timestamp instead of
	// the instance's TSA certificate.
	TimestampSigner *Signer
	// TimestampHash is the message imprint's hash (default SHA-256).
	TimestampHash crypto.Hash
	// Timestamps is how many timestamps to add (default 1 when Timestamp).
	Timestamps int
}

// Entry returns a Rekor v1 log entry for a canonical body: a SET over it,
// and an inclusion proof in a one-leaf tree under a signed checkpoint.
func (s *Sigstore) Entry(t testing.TB, body []byte, e Evidence) *protorekor.TransparencyLogEntry {
	t.Helper()
	key := s.LogKey
	if e.LogKey != nil {
		key = e.LogKey
	}
	if e.IntegratedTime.IsZero() {
		e.IntegratedTime = time.Now()
	}
	id := keyID(t, &key.PublicKey)
	kind, version, err := rekor.Kind(body)
	if err != nil {
		t.Fatal(err)
	}
	s.logIndex++
	tle := &protorekor.TransparencyLogEntry{
		LogIndex: s.logIndex, LogId: &protocommon.LogId{KeyId: id},
		KindVersion:    &protorekor.KindVersion{Kind: kind, Version: version},
		IntegratedTime: e.IntegratedTime.Unix(), CanonicalizedBody: body,
	}
	if !e.NoSET {
		set, err := tlog.SignSET(key, body, tle.IntegratedTime, tle.LogIndex, hex.EncodeToString(id))
		if err != nil {
			t.Fatal(err)
		}
		tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	}
	if !e.NoProof {
		root := tlog.LeafHash(body)
		origin := "rekor.test.local - 1193050959916656506"
		signer, err := tlog.NewNoteSigner("rekor.test.local", key)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := note.Sign(&note.Note{Text: string(log.Checkpoint{Origin: origin, Size: 1, Hash: root}.Marshal())}, signer)
		if err != nil {
			t.Fatal(err)
		}
		tle.InclusionProof = &protorekor.InclusionProof{
			LogIndex: 0, TreeSize: 1, RootHash: root,
			Checkpoint: &protorekor.Checkpoint{Envelope: string(msg)},
		}
	}
	return tle
}

// TSA is the instance's timestamp authority as a signer asks one (pkg/sign's
// Timestamper): every signature stamped now.
func (s *Sigstore) TSA(t testing.TB) Stamper {
	return func(sig []byte) []byte { return s.Timestamp(t, sig, Evidence{Timestamp: true}) }
}

// Stamper timestamps a signature in memory.
type Stamper func(sig []byte) []byte

// Timestamp stamps sig.
func (f Stamper) Timestamp(_ context.Context, sig []byte) ([]byte, error) { return f(sig), nil }

// Timestamp returns an RFC 3161 timestamp response over sig from the
// instance's TSA, shaped by e's timestamp fields.
func (s *Sigstore) Timestamp(t testing.TB, sig []byte, e Evidence) []byte {
	t.Helper()
	at := e.TimestampTime
	if at.IsZero() {
		at = time.Now()
	}
	hash := e.TimestampHash
	if hash == 0 {
		hash = crypto.SHA256
	}
	h := hash.New()
	h.Write(sig)
	s.serial++
	ts := timestamp.Timestamp{
		HashAlgorithm: hash, HashedMessage: h.Sum(nil), Time: at.UTC(),
		SerialNumber: big.NewInt(s.serial), Policy: []int{1, 3, 6, 1, 4, 1, 57264, 2},
		AddTSACertificate: true,
	}
	cert, key := s.TSALeaf, s.tsaKey
	if e.TimestampSigner != nil {
		cert, key = e.TimestampSigner.Cert, e.TimestampSigner.Key
	}
	if e.TimestampKey != nil {
		key = e.TimestampKey
	}
	if hash == crypto.SHA1 {
		return sha1Timestamp(t, ts, cert, key)
	}
	resp, err := ts.CreateResponseWithOpts(cert, key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func hexID(tle *protorekor.TransparencyLogEntry) string {
	return hex.EncodeToString(tle.GetLogId().GetKeyId())
}

func jsonTimestamp(resp []byte) (string, error) {
	b, err := json.Marshal(cosign.RFC3161Annotation{SignedRFC3161Timestamp: resp})
	return string(b), err
}

// sha1Timestamp builds by hand a timestamp response whose imprint is SHA-1
// (the timestamp library refuses to make one).
func sha1Timestamp(t testing.TB, ts timestamp.Timestamp, cert *x509.Certificate, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	type imprint struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		HashedMessage []byte
	}
	info, err := asn1.Marshal(struct {
		Version        int
		Policy         asn1.ObjectIdentifier
		MessageImprint imprint
		SerialNumber   *big.Int
		Time           time.Time `asn1:"generalized"`
	}{1, ts.Policy, imprint{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}, Parameters: asn1.NullRawValue}, ts.HashedMessage},
		ts.SerialNumber, ts.Time.Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := pkcs7.NewSignedData(info)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetContentType(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4})
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	token, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := asn1.Marshal(struct {
		Status struct{ Status int }
		Token  asn1.RawValue
	}{Token: asn1.RawValue{FullBytes: token}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
