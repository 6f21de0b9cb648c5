package oci

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
)

// ErrBudget is wrapped when a verification has read more from registries
// than its budget allows.
var ErrBudget = errors.New("read budget exhausted")

// WithReadBudget returns a copy of c whose every response body (manifests,
// referrer lists, blobs) counts against one shared budget of n bytes; once it
// is spent, further reads fail with ErrBudget. A verification uses one such
// copy per image, so a registry that serves ever more candidates cannot make
// it read without end.
func (c *Client) WithReadBudget(n int64) *Client {
	cc := *c
	b := &budget{left: n, limit: n}
	cc.transport = &budgetTransport{next: c.transport, b: b}
	return &cc
}

type budget struct {
	left, limit int64
}

type budgetTransport struct {
	next http.RoundTripper
	b    *budget
}

func (t *budgetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if atomic.LoadInt64(&t.b.left) <= 0 {
		return nil, fmt.Errorf("%w: %d bytes read from registries for this image", ErrBudget, t.b.limit)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	resp.Body = &budgetBody{ReadCloser: resp.Body, b: t.b}
	return resp, nil
}

type budgetBody struct {
	io.ReadCloser
	b *budget
}

func (r *budgetBody) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if atomic.AddInt64(&r.b.left, -int64(n)) < 0 {
		return n, fmt.Errorf("%w: more than %d bytes read from registries for this image", ErrBudget, r.b.limit)
	}
	return n, err
}
