package rekor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Client talks to a Rekor v1 API (Hallmark's log or Rekor itself).
type Client struct {
	base string
	http *http.Client
}

// NewClient returns a client for the log at baseURL.
func NewClient(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("log URL %q is not an http(s) URL", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), http: hc}, nil
}

// URL is the log's base URL.
func (c *Client) URL() string { return c.base }

// APIError is a non-2xx answer from the log.
type APIError struct {
	Status  int
	Message string
	URL     string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("log %s answered %d %s: %s", e.URL, e.Status, http.StatusText(e.Status), e.Message)
}

const maxResponse = 8 << 20

func (c *Client) do(ctx context.Context, method, p string, body []byte, out any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+p, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("log %s unreachable: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp, fmt.Errorf("reading answer from log %s: %w", c.base, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return resp, &APIError{Status: resp.StatusCode, Message: e.Message, URL: c.base + p}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, fmt.Errorf("decoding answer from log %s%s: %w", c.base, p, err)
		}
	}
	return resp, nil
}

// single returns the one entry of a {uuid: entry} answer.
func single(m map[string]*LogEntry) (string, *LogEntry, error) {
	if len(m) != 1 {
		return "", nil, fmt.Errorf("log answered with %d entries, want 1", len(m))
	}
	for k, v := range m {
		return k, v, nil
	}
	return "", nil, nil
}

// Create uploads a proposed entry and returns it as logged. An entry the log
// already has (409) is fetched and returned as well.
func (c *Client) Create(ctx context.Context, proposed []byte) (string, *LogEntry, error) {
	var m map[string]*LogEntry
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/log/entries", proposed, &m)
	if ae, ok := err.(*APIError); ok && ae.Status == http.StatusConflict && resp != nil && resp.Header.Get("Location") != "" {
		return c.GetByUUID(ctx, path.Base(resp.Header.Get("Location")))
	}
	if err != nil {
		return "", nil, err
	}
	return single(m)
}

// CreateV2 uploads a Rekor v2 CreateEntryRequest and returns the
// TransparencyLogEntry the log answers with.
func (c *Client) CreateV2(ctx context.Context, request []byte) (*protorekor.TransparencyLogEntry, error) {
	var raw json.RawMessage
	if _, err := c.do(ctx, http.MethodPost, "/api/v2/log/entries", request, &raw); err != nil {
		return nil, err
	}
	tle := &protorekor.TransparencyLogEntry{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, tle); err != nil {
		return nil, fmt.Errorf("decoding answer from log %s: %w", c.base, err)
	}
	return tle, nil
}

// GetByUUID fetches an entry by UUID.
func (c *Client) GetByUUID(ctx context.Context, uuid string) (string, *LogEntry, error) {
	var m map[string]*LogEntry
	if _, err := c.do(ctx, http.MethodGet, "/api/v1/log/entries/"+url.PathEscape(uuid), nil, &m); err != nil {
		return "", nil, err
	}
	return single(m)
}

// GetByIndex fetches the entry at a log index.
func (c *Client) GetByIndex(ctx context.Context, i int64) (string, *LogEntry, error) {
	var m map[string]*LogEntry
	if _, err := c.do(ctx, http.MethodGet, "/api/v1/log/entries?logIndex="+strconv.FormatInt(i, 10), nil, &m); err != nil {
		return "", nil, err
	}
	return single(m)
}

// LogInfo is the log's current state.
type LogInfo struct {
	RootHash       string `json:"rootHash"`
	TreeSize       int64  `json:"treeSize"`
	SignedTreeHead string `json:"signedTreeHead"`
	TreeID         string `json:"treeID"`
}

// Info fetches the log's current state.
func (c *Client) Info(ctx context.Context) (*LogInfo, error) {
	var li LogInfo
	_, err := c.do(ctx, http.MethodGet, "/api/v1/log", nil, &li)
	return &li, err
}

// PublicKey fetches the log's PEM public key.
func (c *Client) PublicKey(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/log/publicKey", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("log %s unreachable: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return nil, &APIError{Status: resp.StatusCode, Message: string(b), URL: c.base + "/api/v1/log/publicKey"}
	}
	return b, err
}

// ConsistencyProof is the log's proof between two tree sizes.
type ConsistencyProof struct {
	RootHash string   `json:"rootHash"`
	Hashes   []string `json:"hashes"`
}

// Consistency fetches a consistency proof from firstSize to lastSize.
func (c *Client) Consistency(ctx context.Context, firstSize, lastSize int64) (*ConsistencyProof, error) {
	var p ConsistencyProof
	_, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/log/proof?firstSize=%d&lastSize=%d", firstSize, lastSize), nil, &p)
	return &p, err
}

// SearchQuery is a search of the log's index.
type SearchQuery struct {
	Email     string          `json:"email,omitempty"`
	Hash      string          `json:"hash,omitempty"`
	PublicKey *SearchKeyQuery `json:"publicKey,omitempty"`
}

// SearchKeyQuery names a public key to search for (base64 PEM content).
type SearchKeyQuery struct {
	Format  string `json:"format"`
	Content string `json:"content"`
}

// Search returns the UUIDs of entries matching q.
func (c *Client) Search(ctx context.Context, q SearchQuery) ([]string, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	var out []string
	_, err = c.do(ctx, http.MethodPost, "/api/v1/index/retrieve", body, &out)
	return out, err
}
