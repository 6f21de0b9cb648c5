package load

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// netHTTPSender sends through an http.Client shared by all clients.
type netHTTPSender struct{ hc *http.Client }

func (s netHTTPSender) send(ctx context.Context, r Request) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", r.ContentType)
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func (netHTTPSender) close() {}
