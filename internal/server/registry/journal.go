package registry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
)

// record is one manifest change: a PUT (with the exact bytes and content
// type) or a DELETE of repo/ref.
type record struct {
	Op          string `json:"op"`
	Repo        string `json:"repo"`
	Ref         string `json:"ref"`
	ContentType string `json:"type,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// journal appends records to a file, fsyncing each before it is
// acknowledged.
type journal struct {
	mu sync.Mutex
	f  *os.File
}

func openJournal(path string) (*journal, []record, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening manifest journal: %w", err)
	}
	recs, good, err := readJournal(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	// A crash can leave a torn last line; drop it so appends stay parseable.
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("truncating torn journal tail: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	return &journal{f: f}, recs, nil
}

// readJournal returns the records and the offset just past the last whole one.
func readJournal(r io.Reader) ([]record, int64, error) {
	br := bufio.NewReader(r)
	var (
		recs []record
		good int64
	)
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return recs, good, nil // a line without '\n' is a torn write
		}
		if err != nil {
			return nil, 0, fmt.Errorf("reading manifest journal: %w", err)
		}
		var rec record
		if jerr := json.Unmarshal(bytes.TrimSpace(line), &rec); jerr != nil {
			return nil, 0, fmt.Errorf("manifest journal is corrupt at byte %d: %v", good, jerr)
		}
		recs = append(recs, rec)
		good += int64(len(line))
	}
}

func (j *journal) append(rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return err
	}
	return j.f.Sync()
}

func (j *journal) close() error { return j.f.Close() }

// replay feeds the journal back into a fresh handler, in order.
func replay(h http.Handler, recs []record) error {
	for i, rec := range recs {
		path := "/v2/" + rec.Repo + "/manifests/" + rec.Ref
		var req *http.Request
		switch rec.Op {
		case "put":
			req = httptest.NewRequest(http.MethodPut, path, bytes.NewReader(rec.Body))
			req.Header.Set("Content-Type", rec.ContentType)
		case "delete":
			req = httptest.NewRequest(http.MethodDelete, path, nil)
		default:
			return fmt.Errorf("manifest journal record %d has unknown op %q", i, rec.Op)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 300 && rec.Op == "put" {
			return fmt.Errorf("replaying manifest journal record %d (%s %s:%s): status %d: %s", i, rec.Op, rec.Repo, rec.Ref, w.Code, w.Body.String())
		}
	}
	return nil
}
