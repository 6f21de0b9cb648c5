package log

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The route the handler matched reaches the server around it (its metrics
// and logs label requests by route), though the handler serves a copy of
// the request bounded by requestTimeout.
func TestHandlerReportsItsRoute(t *testing.T) {
	tl := openTestLog(t, t.TempDir(), nil)
	for path, want := range map[string]string{"/api/v1/log": "GET /api/v1/log", "/api/v1/log/entries?logIndex=0": "GET /api/v1/log/entries"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		NewHandler(tl.svc, 0, nil).ServeHTTP(httptest.NewRecorder(), r)
		if r.Pattern != want {
			t.Errorf("GET %s: route %q, want %q", path, r.Pattern, want)
		}
	}
}
