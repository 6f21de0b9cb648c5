package log

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestBadInputSweep sends every endpoint what Rekor refuses: each answer is
// a 4xx in Rekor's error shape naming the problem, never a 5xx, and the log
// does not grow.
func TestBadInputSweep(t *testing.T) {
	tl := openTestLog(t, t.TempDir(), nil)
	s := newSigner(t)
	tl.post(t, "/api/v1/log/entries", s.entry(t, []byte("seed")))
	size := func() int64 { return tl.size(t) }
	before := size()
	hex64 := strings.Repeat("ab", 32)
	for _, c := range []struct {
		name, method, path, body string
		want                     int
		reason                   string
	}{
		{"search: malformed hash", "POST", "/api/v1/index/retrieve", `{"hash":"xyz"}`, 400, "hash"},
		{"search: hash of wrong length", "POST", "/api/v1/index/retrieve", `{"hash":"sha256:` + hex64[:60] + `"}`, 400, "hash"},
		{"search: 100 kB email", "POST", "/api/v1/index/retrieve", `{"email":"` + strings.Repeat("a", 100<<10) + `@x.org"}`, 400, "email"},
		{"search: not an email", "POST", "/api/v1/index/retrieve", `{"email":"not an address"}`, 400, "email"},
		{"search: bad operator", "POST", "/api/v1/index/retrieve", `{"hash":"` + hex64 + `","operator":"xor"}`, 400, "operator"},
		{"search: key without format", "POST", "/api/v1/index/retrieve", `{"publicKey":{"content":"AAAA"}}`, 400, "format"},
		{"search: key by URL", "POST", "/api/v1/index/retrieve", `{"publicKey":{"format":"x509","url":"http://x"}}`, 400, "url"},
		{"search: key not base64", "POST", "/api/v1/index/retrieve", `{"publicKey":{"format":"x509","content":"!!"}}`, 400, "publicKey"},
		{"search: nothing", "POST", "/api/v1/index/retrieve", `{}`, 400, "needs"},
		{"search: not JSON", "POST", "/api/v1/index/retrieve", `{`, 400, "query"},
		{"search: 2 MB body", "POST", "/api/v1/index/retrieve", `{"email":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "limit"},
		{"retrieve: malformed UUID", "POST", "/api/v1/log/entries/retrieve", `{"entryUUIDs":["zz"]}`, 400, "entryUUID"},
		{"retrieve: negative index", "POST", "/api/v1/log/entries/retrieve", `{"logIndexes":[-1]}`, 400, "negative"},
		{"retrieve: nothing", "POST", "/api/v1/log/entries/retrieve", `{}`, 400, "needs"},
		{"retrieve: too many", "POST", "/api/v1/log/entries/retrieve", `{"logIndexes":[0,1,2,3,4,5,6,7,8,9,10]}`, 422, "at most"},
		{"entry: not JSON", "POST", "/api/v1/log/entries", `{`, 400, ""},
		{"entry: unknown kind", "POST", "/api/v1/log/entries", `{"kind":"x","apiVersion":"0.0.1","spec":{}}`, 400, ""},
		{"entry: too large", "POST", "/api/v1/log/entries", strings.Repeat("A", 65<<10), 413, "limit"},
		{"v2 entry: not JSON", "POST", "/api/v2/log/entries", `{`, 400, ""},
		{"by index: not a number", "GET", "/api/v1/log/entries?logIndex=abc", "", 400, "logIndex"},
		{"by index: negative", "GET", "/api/v1/log/entries?logIndex=-1", "", 400, "logIndex"},
		{"by index: past the end", "GET", "/api/v1/log/entries?logIndex=99", "", 404, "no such entry"},
		{"by UUID: malformed", "GET", "/api/v1/log/entries/zz", "", 400, ""},
		{"proof: not numbers", "GET", "/api/v1/log/proof?firstSize=a&lastSize=b", "", 400, "firstSize"},
		{"proof: first after last", "GET", "/api/v1/log/proof?firstSize=5&lastSize=1", "", 400, ""},
		{"public key: other tree", "GET", "/api/v1/log/publicKey?treeID=123", "", 400, "tree ID"},
	} {
		req, _ := http.NewRequest(c.method, tl.srv.URL+c.path, strings.NewReader(c.body))
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Code    int
			Message string
		}
		_ = json.Unmarshal(b, &e)
		if resp.StatusCode != c.want || e.Message == "" || !strings.Contains(e.Message, c.reason) {
			t.Errorf("%s: %d %.200s, want %d naming %q", c.name, resp.StatusCode, b, c.want, c.reason)
		}
	}
	if after := size(); after != before {
		t.Errorf("the log grew from %d to %d entries on bad input", before, after)
	}
}
