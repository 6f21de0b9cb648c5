package load

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Both clients send what the caller built and count only the wanted
// status, through chunked answers and servers that close the connection.
func TestRunCountsWhatTheServerAnswered(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer t" || r.Header.Get("Content-Type") != "application/json" || string(body) != `{"x":1}` {
			http.Error(w, fmt.Sprintf("got %s %q %q %q", r.Method, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body), http.StatusBadRequest)
			return
		}
		switch n.Add(1) % 3 {
		case 0:
			w.Header().Set("Connection", "close")
		case 1:
			w.(http.Flusher).Flush() // a chunked answer
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	req := Request{URL: srv.URL + "/p", ContentType: "application/json", Header: http.Header{"Authorization": {"Bearer t"}}, Body: []byte(`{"x":1}`)}
	for _, client := range []string{"conn", "net/http"} {
		Client = client
		res, err := Run(4, 300*time.Millisecond, http.StatusOK, func(int) Request { return req })
		if err != nil || res.Errors != 0 || res.Rate <= 0 {
			t.Errorf("%s: %+v, %v", client, res, err)
		}
		// Another status than the wanted one is an error, with the answer.
		res, err = Run(1, 100*time.Millisecond, http.StatusCreated, func(int) Request { return req })
		if err == nil || !strings.Contains(err.Error(), "no request answered 201") {
			t.Errorf("%s: %+v, %v; want no answer counted", client, res, err)
		}
	}
	Client = "conn"
}
