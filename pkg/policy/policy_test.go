package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const statement = `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"n":12345678901234567890,"runDetails":{"builder":{"id":"https://github.com/acme/app"}}}}`

func load(t *testing.T, name, src string) (Set, error) {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load([]string{p})
}

func TestPolicies(t *testing.T) {
	cases := []struct {
		file, src string
		denied    bool   // a *Denial
		errSays   string // any error's text
	}{
		{"v0.rego", "package signature\nallow { input.predicate.runDetails.builder.id == \"https://github.com/acme/app\" }", false, ""},
		{"exact.rego", "package signature\nallow { input.predicate.n == 12345678901234567890 }", false, ""},
		{"v1.rego", "package signature\ndefault allow := false\nallow if { input.predicateType == \"x\" }\ndeny contains \"wrong type\" if { not allow }", true, "wrong type"},
		{"undefined.rego", "package signature\nallow { false }", true, "undefined"},
		{"error.rego", "package signature\nallow { to_number(input.predicateType) > 0 }", false, "failed (not allowed)"},
		{"ok.cue", "predicateType: \"https://slsa.dev/provenance/v1\"", false, ""},
		{"deny.cue", "predicate: runDetails: builder: id: =~\"^https://gitlab.com/\"", true, "deny.cue"},
	}
	for _, c := range cases {
		set, err := load(t, c.file, c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		err = set.Evaluate(context.Background(), []byte(statement))
		var d *Denial
		switch {
		case c.errSays == "" && err != nil:
			t.Errorf("%s: %v, want allowed", c.file, err)
		case c.errSays != "" && (err == nil || !strings.Contains(err.Error(), c.errSays)):
			t.Errorf("%s: %v, want an error saying %q", c.file, err, c.errSays)
		case c.denied != errors.As(err, &d):
			t.Errorf("%s: %v: denial %v, want %v", c.file, err, !c.denied, c.denied)
		}
	}
	for name, src := range map[string]string{
		"other.rego":  "package other\nallow { true }",
		"syntax.rego": "package signature\nallow {",
		"bad.cue":     "predicate: {",
		"policy.json": "{}",
	} {
		if _, err := load(t, name, src); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s loaded: %v", name, err)
		}
	}
}
