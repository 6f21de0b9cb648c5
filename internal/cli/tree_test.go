package cli

import (
	"encoding/json"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/oci"
	"reflect"
	"slices"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
)

// TestTreeAndDownload attaches signatures and attestations in both layouts
// and lists them with tree and download, beside cosign's own listing.
func TestTreeAndDownload(t *testing.T) {
	co := newCosignPeer(t)
	reg := hallmarktest.EmbeddedRegistry(t, "")
	hmKey, _ := shared(t)
	img := hallmarktest.PushImage(t, reg.Host, "tree/app:v1", "tree").String()
	mustHM(t, 0, pw, "sign", "--key", hmKey, img)
	mustHM(t, 0, pw, "sign", "--key", hmKey, "--new-bundle-format=false", img)
	mustHM(t, 0, pw, "attest", "--key", hmKey, "--type", "slsaprovenance1", "--predicate", predicatePath(t, "slsaprovenance1"), img)
	mustHM(t, 0, pw, "attest", "--key", hmKey, "--type", "cyclonedx", "--predicate", predicatePath(t, "cyclonedx"), "--new-bundle-format=false", img)
	mustHM(t, 0, pw, "attest", "--key", hmKey, "--type", "vuln", "--predicate", predicatePath(t, "vuln"), "--new-bundle-format=false", img)

	r := mustHM(t, 0, nil, "tree", img)
	wantContains(t, r.stdout, "📦 Supply Chain Security Related artifacts for an image: "+img,
		"💾 Attestations for an image tag: ", ".att", "🔐 Signatures for an image tag: ", ".sig",
		"https://cyclonedx.org/bom", "https://cosign.sigstore.dev/attestation/vuln/v1",
		"└── 🔗 https://slsa.dev/provenance/v1 artifacts via OCI referrer: ",
		"└── 🔗 https://sigstore.dev/cosign/sign/v1 artifacts via OCI referrer: ")
	// cosign lists the same blocks (in its own, random, order).
	coTree := co.must("tree", "--allow-insecure-registry", img)
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if strings.Contains(l, "🍒") && strings.Contains(l, "https://") {
			l = l[:strings.LastIndex(l, " ")] // cosign does not name legacy layers' predicate types
		}
		if !strings.Contains(coTree, strings.TrimSpace(l)) {
			t.Errorf("cosign tree lacks %q:\n%s", l, coTree)
		}
	}

	all := lines(mustHM(t, 0, nil, "download", "attestation", img).stdout)
	if len(all) != 4 { // cosign lists the signature bundle too
		t.Fatalf("download attestation: %d lines, want 4", len(all))
	}
	coAll := lines(co.must("download", "attestation", "--allow-insecure-registry", img))
	if !sameJSONLines(all, coAll) {
		t.Errorf("download attestation differs from cosign's:\n%v\n%v", all, coAll)
	}
	if got := lines(mustHM(t, 0, nil, "download", "attestation", "--predicate-type", "vuln", img).stdout); len(got) != 1 {
		t.Errorf("download attestation --predicate-type vuln: %d lines", len(got))
	}
	r = mustHM(t, exitNoSignatures, nil, "download", "attestation", "--predicate-type", "openvex", img)
	wantContains(t, r.stderr, "no attestations with predicate type 'https://openvex.dev/ns' found")
	if got := lines(mustHM(t, 0, nil, "download", "signature", img).stdout); len(got) != 2 {
		t.Errorf("download signature: %d lines, want 2", len(got))
	}
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

// sameJSONLines compares two sets of JSON lines by value, in any order.
func sameJSONLines(a, b []string) bool {
	norm := func(ls []string) []string {
		var out []string
		for _, l := range ls {
			var v any
			if json.Unmarshal([]byte(l), &v) != nil {
				return nil
			}
			n, _ := json.Marshal(v)
			out = append(out, string(n))
		}
		slices.Sort(out)
		return out
	}
	na, nb := norm(a), norm(b)
	return na != nil && reflect.DeepEqual(na, nb)
}

// TestAttestNoUpload: --no-upload signs and prints the attestation (the
// bundle, or the DSSE envelope) and stores nothing.
func TestAttestNoUpload(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	key, pub := shared(t)
	img := hallmarktest.PushImage(t, reg.Host, "noup/app:v1", "no upload").String()
	r := mustHM(t, 0, pw, "attest", "--no-upload", "--key", key, "--type", "vuln", "--predicate", predicatePath(t, "vuln"), img)
	var b struct {
		MediaType    string          `json:"mediaType"`
		DSSEEnvelope json.RawMessage `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil || !strings.Contains(b.MediaType, "sigstore.bundle") || len(b.DSSEEnvelope) == 0 {
		t.Fatalf("--no-upload printed %q (%v)", r.stdout, err)
	}
	r = mustHM(t, 0, pw, "attest", "--no-upload", "--new-bundle-format=false", "--key", key, "--type", "vuln", "--predicate", predicatePath(t, "vuln"), img)
	var env struct {
		PayloadType string `json:"payloadType"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &env); err != nil || env.PayloadType != "application/vnd.in-toto+json" {
		t.Fatalf("--no-upload (legacy) printed %q (%v)", r.stdout, err)
	}
	mustHM(t, exitNoSignatures, nil, "verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--type", "vuln", img)
}

// TestReplaceReadsStatements: --replace drops an earlier attestation of the
// same type even when its layer lacks the predicateType annotation (cosign
// reads the statement), and keeps the other types.
func TestReplaceReadsStatements(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	key, _ := shared(t)
	img := hallmarktest.PushImage(t, reg.Host, "replace/app:v1", "replace")
	attest := func(typ string, extra ...string) string {
		args := append([]string{"attest", "--key", key, "--type", typ, "--predicate", predicatePath(t, typ), "--new-bundle-format=false"}, extra...)
		return mustHM(t, 0, pw, append(args, img.String())...).stdout
	}
	env := attest("vuln", "--no-upload")
	c, _ := oci.New()
	if err := c.AppendAttestation(t.Context(), img, []byte(strings.TrimSpace(env)), map[string]string{}, false); err != nil {
		t.Fatal(err)
	}
	attest("cyclonedx")
	attest("vuln", "--replace")
	layers, _, err := c.AttestationLayers(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range layers {
		types = append(types, l.Annotations[cosign.PredicateTypeAnnotation])
	}
	if len(layers) != 2 || !slices.Contains(types, "https://cosign.sigstore.dev/attestation/vuln/v1") || !slices.Contains(types, "https://cyclonedx.org/bom") {
		t.Fatalf("after --replace: %d layers of types %q; want the new vuln one and the cyclonedx one", len(layers), types)
	}
}
