package attest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fixture(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "cli", "testdata", "predicates", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPredicateOfEachType(t *testing.T) {
	for typ, file := range map[string]string{
		"slsaprovenance": "slsa02.json", "slsaprovenance02": "slsa02.json", "slsaprovenance1": "slsa1.json",
		"spdxjson": "spdx.json", "spdx": "spdx.json", "cyclonedx": "cyclonedx.json", "vuln": "vuln.json",
		"openvex": "openvex.json", "link": "link.json",
	} {
		uri, p, err := Predicate(typ, fixture(t, file), time.Now())
		if err != nil {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		if uri != shortTypes[typ] || !json.Valid(p) {
			t.Errorf("%s: uri %s, predicate valid %v", typ, uri, json.Valid(p))
		}
	}
}

func TestPredicateMismatches(t *testing.T) {
	grypeRaw := `{"matches":[],"descriptor":{"name":"grype"}}`
	cases := []struct{ typ, in, want string }{
		{"spdxjson", string(fixture(t, "cyclonedx.json")), "spdxVersion"},
		{"cyclonedx", string(fixture(t, "spdx.json")), "bomFormat"},
		{"vuln", grypeRaw, "scanner.result"},
		{"openvex", `{"@context":"https://example.com","statements":[]}`, "@context"},
		{"openvex", `{"@context":"https://openvex.dev/ns/v0.2.0"}`, "statements"},
		{"slsaprovenance1", `{"buildDefinition":{"buildType":"x"},"runDetails":{}}`, "builder.id"},
		{"slsaprovenance1", `{"buildDefinition":{"buildType":"x","nope":1},"runDetails":{"builder":{"id":"b"}}}`, "SLSA v1 provenance"},
		{"slsaprovenance", `{"buildType":"x"}`, "builder.id"},
		{"link", `{"_type":"link","name":"x"}`, "materials"},
		{"cyclonedx", `<bom xmlns="http://cyclonedx.org/schema/bom/1.5"/>`, "JSON object"},
		{"spdx", "PackageName: x\n", "SPDXVersion"},
		{"https://example.com/predicate/v1", `[1,2]`, "must be a JSON object: it is a JSON array"},
		{"https://example.com/predicate/v1", `{"a":1} {"b":2}`, "more after"},
	}
	for _, c := range cases {
		_, _, err := Predicate(c.typ, []byte(c.in), time.Now())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--type %s with %.40q: %v, want an error naming %q", c.typ, c.in, err, c.want)
		}
	}
}

func TestPredicateWrapping(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	uri, p, err := Predicate("custom", []byte(`{"not":"parsed"}`), now)
	if err != nil || uri != CustomURI || string(p) != `{"Data":"{\"not\":\"parsed\"}","Timestamp":"2026-11-30T10:00:00Z"}` {
		t.Fatalf("custom: %s %s %v", uri, p, err)
	}
	tv := "SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n"
	if uri, p, err = Predicate("spdx", []byte(tv), now); err != nil || uri != SPDXURI || string(p) != `"SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n"` {
		t.Fatalf("spdx tag-value: %s %s %v", uri, p, err)
	}
	if _, _, err := Predicate("spdxjson", []byte(tv), now); err == nil {
		t.Fatal("spdxjson accepted tag-value")
	}
	// invocationID is written as the specification's invocationId.
	in := `{"buildDefinition":{"buildType":"t"},"runDetails":{"builder":{"id":"b"},"metadata":{"invocationID":"run-1"}}}`
	if _, p, err = Predicate("slsaprovenance1", []byte(in), now); err != nil || !strings.Contains(string(p), `"invocationId":"run-1"`) {
		t.Fatalf("slsaprovenance1 invocationID: %s %v", p, err)
	}
}

func TestPredicateURI(t *testing.T) {
	if u, err := PredicateURI("https://example.com/p/v1"); err != nil || u != "https://example.com/p/v1" {
		t.Fatalf("URI type: %s %v", u, err)
	}
	for _, bad := range []string{"sbom", "not a uri", SignatureURI} {
		if _, err := PredicateURI(bad); err == nil {
			t.Errorf("--type %q accepted", bad)
		}
	}
}

func TestNewStatement(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	b, err := NewStatement("registry.example/app", hex, CycloneDXURI, json.RawMessage(`{"bomFormat":"CycloneDX","n":12345678901234567890}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"registry.example/app","digest":{"sha256":"` + hex + `"}}],"predicateType":"https://cyclonedx.org/bom","predicate":{"bomFormat":"CycloneDX","n":12345678901234567890}}`
	if string(b) != want {
		t.Fatalf("statement\n got %s\nwant %s", b, want)
	}
	if _, err := NewStatement("x", "abc", CustomURI, json.RawMessage(`{}`)); err == nil {
		t.Fatal("a short digest was accepted")
	}
}
