package ct

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/transparency-dev/tessera/ctonly"
)

func testEntry(i int, precert bool) *ctonly.Entry {
	h := sha256.Sum256(fmt.Appendf(nil, "issuer %d", i))
	e := &ctonly.Entry{Timestamp: uint64(1700000000000 + i), IsPrecert: precert, Certificate: fmt.Appendf(nil, "certificate %d", i),
		FingerprintsChain: [][32]byte{h, sha256.Sum256([]byte("root"))}}
	if precert {
		e.IssuerKeyHash = h[:]
		e.Precertificate = fmt.Appendf(nil, "precertificate %d", i)
	}
	return e
}

func TestParseTileLeaf(t *testing.T) {
	for _, precert := range []bool{true, false} {
		e := testEntry(7, precert)
		data := e.LeafData(42)
		back, err := decodeTileLeaf(42, data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back.MarshalBundleData(42), data) {
			t.Errorf("precert %t: does not read back", precert)
		}
	}
	good := testEntry(7, true).LeafData(1)
	for name, b := range map[string][]byte{
		"empty": nil, "short": good[:9], "cut": good[:len(good)-1], "trailing": append(good[:len(good):len(good)], 0),
		"entry type": append(append(good[:8:8], 0, 9), good[10:]...),
	} {
		if _, err := parseTileLeaf(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// A TileLeaf names its entry's index (the leaf_index extension), so the
// journal's read-back check catches a record journaled under another index:
// decoded, it writes other bytes at that index.
func TestDecodeTileLeafKeepsItsIndex(t *testing.T) {
	data := testEntry(5, true).LeafData(6)
	e, err := decodeTileLeaf(5, data)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(e.MarshalBundleData(5), data) {
		t.Error("a TileLeaf for index 6 reads back as written at index 5")
	}
	if !bytes.Equal(e.MarshalBundleData(6), data) {
		t.Error("a TileLeaf for index 6 does not read back at index 6")
	}
}
