package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The journal's files: DIR/<index of the first entry>.log, each a run of
// records
//
//	uint32 length of what follows the checksum
//	uint32 CRC-32C of it
//	uint64 the entry's index
//	the entry's bundle data (MarshalBundleData: a CT log's static-ct-api
//	TileLeaf, a tlog-tiles log's length-prefixed entry)
//
// A segment's file is zeroed and synced ahead of its records, zeroStep at a
// time, so that the sync after each write is of the data alone
// (fdatasync, no change to the file's size for ext4 to journal); zeroes
// after the last record are the end of a segment's records. A segment is
// removed once Tessera has integrated every entry in it; a new one is
// started when the current one passes segmentLimit.
type segments struct {
	dir   string
	limit int64 // start a new segment past this size

	mu     sync.Mutex // starts is read by release while append grows it
	starts []uint64   // first index of each segment on disk, ascending
	f      *os.File   // the last segment, open for writing
	size   int64      // bytes of records in f
	zeroed int64      // bytes of f zeroed and synced
}

const (
	segmentLimit = 64 << 20
	zeroStep     = 1 << 20
	recordHeader = 8 // length, checksum
)

// zeroes is written ahead of a segment's records.
var zeroes [64 << 10]byte

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendRecord(b []byte, idx uint64, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(8+len(data)))
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, idx)
	b = append(b, data...)
	binary.BigEndian.PutUint32(b[at:], crc32.Checksum(b[at+4:], castagnoli))
	return b
}

func segmentName(first uint64) string { return fmt.Sprintf("%020d.log", first) }

// append writes records whose first entry is first and syncs them.
func (s *segments) append(first uint64, records []byte) error {
	if s.f == nil || s.size >= s.limit {
		if err := s.start(first); err != nil {
			return err
		}
	}
	if err := s.zeroAhead(int64(len(records))); err != nil {
		return err
	}
	n, err := s.f.WriteAt(records, s.size)
	s.size += int64(n)
	if err != nil {
		return err
	}
	return datasync(s.f)
}

// zeroAhead makes sure the next n bytes of the segment are zeroed and
// synced (size and all), a whole number of zeroSteps at a time.
func (s *segments) zeroAhead(n int64) error {
	if s.size+n <= s.zeroed {
		return nil
	}
	end := (s.size + n + zeroStep - 1) / zeroStep * zeroStep
	for s.zeroed < end {
		w, err := s.f.WriteAt(zeroes[:min(int64(len(zeroes)), end-s.zeroed)], s.zeroed)
		s.zeroed += int64(w)
		if err != nil {
			return err
		}
	}
	return s.f.Sync()
}

// start opens a new segment for entries from first on.
func (s *segments) start(first uint64) error {
	f, err := os.OpenFile(filepath.Join(s.dir, segmentName(first)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return err
	}
	if s.f != nil {
		s.f.Close()
	}
	s.mu.Lock()
	s.starts = append(s.starts, first)
	s.mu.Unlock()
	s.f, s.size, s.zeroed = f, 0, 0
	return nil
}

// release removes the segments whose entries are all below integrated; the
// one being appended to stays.
func (s *segments) release(integrated uint64) error {
	s.mu.Lock()
	var gone []uint64
	for len(s.starts) > 1 && s.starts[1] <= integrated {
		gone = append(gone, s.starts[0])
		s.starts = s.starts[1:]
	}
	s.mu.Unlock()
	var errs []error
	for _, first := range gone {
		errs = append(errs, os.Remove(filepath.Join(s.dir, segmentName(first))))
	}
	if len(gone) > 0 {
		errs = append(errs, syncDir(s.dir))
	}
	return errors.Join(errs...)
}

func (s *segments) close() error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}

// journalRecord is one entry read back from the journal.
type journalRecord struct {
	idx  uint64
	data []byte
}

// readSegments lists the journal's segments and reads their records in
// order, but for segments wholly below size (integrated; left by a crash
// while they were being removed), which are listed only. A segment's records
// end where only zeroes follow. A record cut short or failing its checksum
// at the end of the last segment is a write the crash interrupted, never
// acknowledged: the segment is cut there. Anywhere else it is damage, and an
// error. maxData is the largest entry data add takes.
func readSegments(dir string, size uint64, maxData int) (starts []uint64, records []journalRecord, err error) {
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range names {
		name, ok := strings.CutSuffix(n.Name(), ".log")
		if !ok {
			continue
		}
		first, err := strconv.ParseUint(name, 10, 64)
		if err != nil || segmentName(first) != n.Name() {
			return nil, nil, fmt.Errorf("journal %s: unexpected file %s", dir, n.Name())
		}
		starts = append(starts, first)
	}
	slices.Sort(starts)
	for i, first := range starts {
		if i < len(starts)-1 && starts[i+1] <= size {
			continue
		}
		path := filepath.Join(dir, segmentName(first))
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		off, want := 0, first
		for off < len(b) {
			rec, n, err := parseRecord(b[off:], maxData)
			if err == nil && rec.idx != want {
				err = fmt.Errorf("entry %d where %d was due", rec.idx, want)
			}
			if err != nil && allZero(b[off:]) {
				break // the zeroed end of the segment
			}
			if err != nil {
				if i < len(starts)-1 {
					return nil, nil, fmt.Errorf("journal %s at byte %d: %w", path, off, err)
				}
				if terr := truncateFile(path, int64(off)); terr != nil {
					return nil, nil, terr
				}
				break
			}
			records = append(records, rec)
			off += n
			want++
		}
		if i < len(starts)-1 && want != starts[i+1] {
			return nil, nil, fmt.Errorf("journal %s ends before entry %d, but the next segment starts at %d", path, want, starts[i+1])
		}
	}
	return starts, records, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func parseRecord(b []byte, maxData int) (journalRecord, int, error) {
	if len(b) < recordHeader {
		return journalRecord{}, 0, io.ErrUnexpectedEOF
	}
	n := int(binary.BigEndian.Uint32(b))
	if n < 8 || n > 8+maxData { // index, the largest entry add takes
		return journalRecord{}, 0, fmt.Errorf("record length %d", n)
	}
	if len(b) < recordHeader+n {
		return journalRecord{}, 0, io.ErrUnexpectedEOF
	}
	body := b[recordHeader : recordHeader+n]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return journalRecord{}, 0, errors.New("checksum mismatch")
	}
	return journalRecord{idx: binary.BigEndian.Uint64(body), data: body[8:]}, recordHeader + n, nil
}

func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
