package ct

import (
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/ctonly"
	"golang.org/x/crypto/cryptobyte"
)

// decodeTileLeaf turns a static-ct-api TileLeaf, as the journal keeps it,
// back into the Tessera entry that wrote it (the journal checks that it
// writes the same bytes again).
func decodeTileLeaf(_ uint64, data []byte) (*tessera.Entry, error) {
	ce, err := parseTileLeaf(data)
	if err != nil {
		return nil, err
	}
	return tesseraCTEntry(ce), nil
}

// tesseraCTEntry is the Tessera entry for a CT entry, as TesseraCT makes it.
func tesseraCTEntry(ce *ctonly.Entry) *tessera.Entry {
	var e *tessera.Entry
	// Tessera builds CT entries only through its CT appender: borrow it.
	tessera.NewCertificateTransparencyAppender(&tessera.Appender{Add: func(_ context.Context, x *tessera.Entry) tessera.IndexFuture {
		e = x
		return nil
	}})(context.Background(), ce)
	return e
}

// parseTileLeaf reads a TileLeaf (c2sp.org/static-ct-api):
//
//	uint64 timestamp; uint16 entry_type;
//	x509_entry: opaque certificate<1..2^24-1>
//	precert_entry: opaque issuer_key_hash[32]; opaque tbs_certificate<1..2^24-1>
//	opaque extensions<0..2^16-1>
//	precert_entry: opaque pre_certificate<1..2^24-1>
//	opaque certificate_chain<0..2^16-1> (SHA-256 fingerprints)
func parseTileLeaf(data []byte) (*ctonly.Entry, error) {
	s := cryptobyte.String(data)
	var (
		e            ctonly.Entry
		kind         uint16
		cert, exts   cryptobyte.String
		fingerprints cryptobyte.String
	)
	if !s.ReadUint64(&e.Timestamp) || !s.ReadUint16(&kind) {
		return nil, errors.New("TileLeaf: short header")
	}
	switch kind {
	case 0:
	case 1:
		e.IsPrecert = true
		if !s.ReadBytes(&e.IssuerKeyHash, 32) {
			return nil, errors.New("TileLeaf: short issuer key hash")
		}
	default:
		return nil, fmt.Errorf("TileLeaf: entry type %d", kind)
	}
	if !s.ReadUint24LengthPrefixed(&cert) || !s.ReadUint16LengthPrefixed(&exts) {
		return nil, errors.New("TileLeaf: short entry")
	}
	e.Certificate = cert
	if e.IsPrecert {
		var pre cryptobyte.String
		if !s.ReadUint24LengthPrefixed(&pre) {
			return nil, errors.New("TileLeaf: short precertificate")
		}
		e.Precertificate = pre
	}
	if !s.ReadUint16LengthPrefixed(&fingerprints) || len(fingerprints)%32 != 0 || !s.Empty() {
		return nil, errors.New("TileLeaf: bad certificate chain")
	}
	for len(fingerprints) > 0 {
		var f [32]byte
		copy(f[:], fingerprints[:32])
		fingerprints = fingerprints[32:]
		e.FingerprintsChain = append(e.FingerprintsChain, f)
	}
	return &e, nil
}
