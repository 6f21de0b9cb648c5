package journal

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/transparency-dev/tessera"
)

// MaxPlainEntryData is the largest record of a plain entry (DecodeEntry):
// Tessera's limit on an entry's data and the two bytes of its length.
const MaxPlainEntryData = 2 + math.MaxUint16

// DecodeEntry is Config.Decode for a log of plain entries
// (tessera.NewEntry, as the Rekor log's): a record is the entry's data after
// its length, two bytes big-endian.
func DecodeEntry(_ uint64, data []byte) (*tessera.Entry, error) {
	if len(data) < 2 || int(binary.BigEndian.Uint16(data)) != len(data)-2 {
		return nil, errors.New("not a length-prefixed entry")
	}
	return tessera.NewEntry(data[2:]), nil
}
