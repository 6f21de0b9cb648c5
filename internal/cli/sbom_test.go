package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
)

// TestRealSBOMs attests SBOMs of a real Go module, Hallmark's own: a
// CycloneDX BOM made by cyclonedx-gomod and an SPDX document made from `go
// list -m -json all`, then verifies them with both tools under policies that
// read every component.
func TestRealSBOMs(t *testing.T) {
	gomod := hallmarktest.CycloneDXGomod(t)
	co := newCosignPeer(t)
	reg := hallmarktest.EmbeddedRegistry(t, "")
	hmKey, hmPub := shared(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cdx := filepath.Join(dir, "sbom.cdx.json")
	cmd := exec.Command(gomod, "mod", "-json", "-output", cdx, root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cyclonedx-gomod: %v\n%s", err, out)
	}
	spdx := filepath.Join(dir, "sbom.spdx.json")
	writeSPDX(t, root, spdx)

	img := hallmarktest.PushImage(t, reg.Host, "sbom/hallmark:v1", "sbom").String()
	mustHM(t, 0, pw, "attest", "--key", hmKey, "--type", "cyclonedx", "--predicate", cdx, img)
	mustHM(t, 0, pw, "attest", "--key", hmKey, "--type", "spdxjson", "--predicate", spdx, "--new-bundle-format=false", img)
	// The wrong type for each document is refused before signing.
	r := mustHM(t, 1, pw, "attest", "--key", hmKey, "--type", "spdxjson", "--predicate", cdx, img)
	wantContains(t, r.stderr, "not a spdxjson document", "spdxVersion")

	policies := map[string]string{
		"cyclonedx": `package signature
allow {
	input.predicate.bomFormat == "CycloneDX"
	input.predicate.metadata.component.name == "hallmark.dev/hallmark"
	count([c | c := input.predicate.components[_]; not c.purl]) == 0
	count([c | c := input.predicate.components[_]; c.name == "github.com/google/go-containerregistry"]) == 1
}`,
		"spdxjson": `package signature
allow {
	startswith(input.predicate.spdxVersion, "SPDX-2.")
	input.predicate.packages[0].name == "hallmark.dev/hallmark"
	count([p | p := input.predicate.packages[_]; p.name == "github.com/spf13/cobra"]) == 1
}`,
	}
	for typ, src := range policies {
		pol := filepath.Join(dir, typ+".rego")
		writeFile(t, pol, src)
		mustHM(t, 0, nil, "verify-attestation", "--key", hmPub, "--insecure-ignore-tlog", "--type", typ, "--policy", pol, img)
		args := []string{"verify-attestation", "--key", hmPub, "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", co.root,
			"--type", typ, "--policy", pol, img}
		if typ == "spdxjson" {
			args = append(args[:len(args)-1], "--new-bundle-format=false", img) // cosign reads .att only without bundles, or when told
		}
		co.must(args...)
	}
}

// writeSPDX writes an SPDX 2.3 JSON document of the module in root and its
// dependencies, from `go list -m -json all`.
func writeSPDX(t *testing.T, root, out string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-json", "all")
	cmd.Dir = root
	listing, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m all: %v", err)
	}
	type pkg struct {
		Name         string `json:"name"`
		SPDXID       string `json:"SPDXID"`
		VersionInfo  string `json:"versionInfo,omitempty"`
		Download     string `json:"downloadLocation"`
		ExternalRefs []any  `json:"externalRefs,omitempty"`
	}
	var pkgs []pkg
	var rels []any
	d := json.NewDecoder(bytes.NewReader(listing))
	for i := 0; ; i++ {
		var m struct{ Path, Version string }
		if err := d.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("SPDXRef-Package-%d", i)
		p := pkg{Name: m.Path, SPDXID: id, VersionInfo: m.Version, Download: "NOASSERTION"}
		if m.Version != "" {
			p.ExternalRefs = []any{map[string]string{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
				"referenceLocator": "pkg:golang/" + strings.ToLower(m.Path) + "@" + m.Version}}
			rels = append(rels, map[string]string{"spdxElementId": "SPDXRef-Package-0", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": id})
		}
		pkgs = append(pkgs, p)
	}
	rels = append([]any{map[string]string{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-Package-0"}}, rels...)
	doc := map[string]any{"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": pkgs[0].Name,
		"documentNamespace": "https://hallmark.dev/spdx/tests", "creationInfo": map[string]any{"created": "2026-11-30T00:00:00Z",
			"creators": []string{"Tool: hallmark-tests (go list -m -json all)"}}, "packages": pkgs, "relationships": rels}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
