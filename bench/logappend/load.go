package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	rate     float64
	p50, p99 time.Duration
	errors   int64
	firstErr string
}

// load runs clients closed-loop writers against target for dur, each on its
// own keep-alive connection, and reports acknowledged appends per second and
// the latency of each append. The client is plain HTTP/1.1 written by hand,
// so that on a small machine the load generator takes as little as possible
// of the CPU the log under test also needs (net/http's client costs several
// times more per request).
func load(target string, clients int, dur time.Duration, gen func(int) [][]byte) (*result, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	// Enough entries for a generous rate; each is used once.
	budget := int(dur.Seconds()*12000) + clients*4
	entries := gen(budget)
	var (
		next     atomic.Int64
		okCount  atomic.Int64
		errCount atomic.Int64
		firstErr atomic.Value
		mu       sync.Mutex
		lats     []time.Duration
	)
	fail := func(err error) {
		errCount.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				mine []time.Duration
				cn   *conn
			)
			defer func() {
				if cn != nil {
					cn.Close()
				}
			}()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if int(i) >= len(entries) {
					break
				}
				if cn == nil {
					if cn, err = dial(ctx, u); err != nil {
						if ctx.Err() == nil {
							fail(err)
						}
						time.Sleep(10 * time.Millisecond)
						continue
					}
				}
				t0 := time.Now()
				status, body, err := cn.post(u, entries[i])
				if err != nil {
					cn.Close()
					cn = nil
					if ctx.Err() == nil {
						fail(err)
						time.Sleep(10 * time.Millisecond)
					}
					continue
				}
				if status != http.StatusCreated {
					fail(fmt.Errorf("%d %.512s", status, body))
					continue
				}
				okCount.Add(1)
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(lats) == 0 {
		return nil, fmt.Errorf("no append acknowledged at %d clients (first error: %v)", clients, firstErr.Load())
	}
	slices.Sort(lats)
	r := &result{
		rate: float64(okCount.Load()) / elapsed.Seconds(), errors: errCount.Load(),
		p50: lats[len(lats)/2], p99: lats[len(lats)*99/100],
	}
	if e, ok := firstErr.Load().(string); ok {
		r.firstErr = e
	}
	return r, nil
}

// conn is one keep-alive HTTP/1.1 connection.
type conn struct {
	net.Conn
	r   *bufio.Reader
	buf []byte
}

func dial(ctx context.Context, u *url.URL) (*conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	// Writers stuck past the end of the run are released by the deadline.
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl.Add(30 * time.Second))
	}
	return &conn{Conn: c, r: bufio.NewReaderSize(c, 16<<10)}, nil
}

// post sends one request and reads the whole response, so the connection
// can carry the next.
func (c *conn) post(u *url.URL, body []byte) (int, []byte, error) {
	c.buf = append(c.buf[:0], "POST "...)
	c.buf = append(c.buf, u.RequestURI()...)
	c.buf = append(c.buf, " HTTP/1.1\r\nHost: "...)
	c.buf = append(c.buf, u.Host...)
	c.buf = append(c.buf, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	c.buf = strconv.AppendInt(c.buf, int64(len(body)), 10)
	c.buf = append(c.buf, "\r\n\r\n"...)
	c.buf = append(c.buf, body...)
	if _, err := c.Write(c.buf); err != nil {
		return 0, nil, err
	}
	return c.readResponse()
}

// readResponse reads a status line, headers and a Content-Length body: the
// framing both logs under test answer appends with. Anything else is an
// error, not a silent miscount.
func (c *conn) readResponse() (int, []byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	// "HTTP/1.1 201 Created\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, fmt.Errorf("malformed status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("malformed status line %q", line)
	}
	length, closing := -1, false
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, _ := bytes.Cut(h, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, nil, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, nil, fmt.Errorf("the server answered with Transfer-Encoding %s; this client reads Content-Length bodies", value)
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			closing = true
		}
	}
	if length < 0 {
		return 0, nil, errors.New("the response has no Content-Length")
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return 0, nil, err
	}
	if closing {
		return 0, nil, fmt.Errorf("server closed the connection after a %d", status)
	}
	return status, body, nil
}
