package load

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// connSender is one client's keep-alive HTTP/1.1 connection: it writes each
// request in one write and reads the answer with http.ReadResponse (which
// handles chunked bodies), redialling when the server closes it.
type connSender struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	buf  bytes.Buffer
	body bytes.Buffer
}

func (s *connSender) send(ctx context.Context, r Request) (int, []byte, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return 0, nil, err
	}
	if u.Scheme != "http" {
		return 0, nil, fmt.Errorf("load: %s: only http:// URLs", r.URL)
	}
	if s.conn == nil || s.addr != u.Host {
		s.close()
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return 0, nil, err
		}
		s.addr, s.conn, s.br = u.Host, c, bufio.NewReaderSize(c, 16<<10)
	}
	// The headers net/http would send: its defaults, the caller's, the
	// body's type and length.
	h := http.Header{"User-Agent": {"Go-http-client/1.1"}, "Accept-Encoding": {"gzip"}}
	for k, v := range r.Header {
		if k != "Host" && k != "Content-Length" {
			h[k] = v
		}
	}
	h.Set("Content-Type", r.ContentType)
	s.buf.Reset()
	fmt.Fprintf(&s.buf, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", u.RequestURI(), u.Host, len(r.Body))
	_ = h.Write(&s.buf)
	s.buf.WriteString("\r\n")
	s.buf.Write(r.Body)
	// Bounded as the net/http client is, and abandoned when the run ends.
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.conn.SetDeadline(deadline)
	if _, err := s.conn.Write(s.buf.Bytes()); err != nil {
		s.close()
		return 0, nil, err
	}
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		s.close()
		return 0, nil, err
	}
	s.body.Reset()
	_, err = io.Copy(&s.body, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		s.close()
	}
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, s.body.Bytes(), nil
}

func (s *connSender) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}
