package policy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestJSONValue: the direct conversion gives OPA's own values for every
// kind of JSON (escapes, unicode, invalid UTF-8, exact numbers, nesting,
// duplicate keys), and refuses what is not JSON.
func TestJSONValue(t *testing.T) {
	for _, doc := range []string{
		`{"a":1,"b":[true,false,null],"c":{"d":"e"}}`,
		` { "esc" : "q\"uote\\back\/slash\n\u00e9\ud83d\ude00" , "num": [0, -1, 1.5e10, 12345678901234567890123, 1E-7, 0.1] } `,
		`{"dup":1,"dup":2}`,
		`[]`, `{}`, `"just a string"`, `42`, `null`,
		"{\"bad utf8\":\"\xff\xfe\"}",
		`{"nested":[[[{"x":[{}]}]]]}`,
	} {
		want, err := ast.ValueFromReader(bytes.NewReader([]byte(doc)))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		got, err := jsonValue([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if ast.Compare(got, want) != 0 {
			t.Errorf("%s:\n got %v\nwant %v", doc, got, want)
		}
	}
	for _, bad := range []string{`{`, `{"a":}`, `[1,]`, `tru`, `{"a":1} x`, ``, `{"score":1e9999999}`, `[1E+1001]`, `[` + strings.Repeat("9", 101) + `]`} {
		if _, err := jsonValue([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
