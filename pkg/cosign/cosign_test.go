package cosign

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestSimpleSigningShape(t *testing.T) {
	// The exact bytes cosign signs: field order and null optional matter.
	got, err := NewSimpleSigning("reg.example/app", "sha256:abc", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"critical":{"identity":{"docker-reference":"reg.example/app"},"image":{"docker-manifest-digest":"sha256:abc"},"type":"cosign container image signature"},"optional":null}`
	if string(got) != want {
		t.Fatalf("payload\n%s\nwant\n%s", got, want)
	}
	if _, err := ParseSimpleSigning([]byte(strings.Replace(want, "cosign container image signature", "other", 1))); err == nil {
		t.Error("a payload of another type was accepted")
	}
}

func TestSignStatementShape(t *testing.T) {
	raw, err := NewSignStatement("sha256", "abc", map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseStatement(raw)
	if err != nil {
		t.Fatal(err)
	}
	if st.GetPredicateType() != SignPredicateType || st.GetSubject()[0].GetDigest()["sha256"] != "abc" ||
		st.GetSubject()[0].GetAnnotations().AsMap()["k"] != "v" {
		t.Fatalf("statement %s", raw)
	}
	for name, bad := range map[string]string{
		"no subject":   `{"_type":"https://in-toto.io/Statement/v1","predicateType":"x"}`,
		"wrong type":   `{"_type":"https://in-toto.io/Statement/v2","subject":[{"digest":{"sha256":"a"}}],"predicateType":"x"}`,
		"empty digest": `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a"}],"predicateType":"x"}`,
		"not json":     `{`,
	} {
		if _, err := ParseStatement([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// cosign attest-blob writes v0.1 statements.
	if _, err := ParseStatement([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"digest":{"sha256":"a"}}],"predicateType":"x"}`)); err != nil {
		t.Errorf("a v0.1 statement was refused: %v", err)
	}
}

func TestParseBundle(t *testing.T) {
	cosignBlob, err := os.ReadFile("testdata/cosign-blob.bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseBundle(cosignBlob)
	if err != nil {
		t.Fatalf("bundle written by cosign v3.1.3 refused: %v", err)
	}
	if len(b.GetMessageSignature().GetSignature()) == 0 {
		t.Fatal("signature lost")
	}
	dsse, _ := MarshalBundle(NewDSSEBundle(InTotoPayloadType, []byte("{}"), []byte("sig"), "hint"))
	if _, err := ParseBundle(dsse); err != nil {
		t.Fatalf("own DSSE bundle refused: %v", err)
	}
	bad := map[string]string{
		"unknown media type": `{"mediaType":"application/json","verificationMaterial":{"publicKey":{}},"messageSignature":{"signature":"AA=="}}`,
		"no material":        `{"mediaType":"` + BundleMediaType + `","messageSignature":{"signature":"AA=="}}`,
		"no content":         `{"mediaType":"` + BundleMediaType + `","verificationMaterial":{"publicKey":{"hint":"x"}}}`,
		"empty signature":    `{"mediaType":"` + BundleMediaType + `","verificationMaterial":{"publicKey":{"hint":"x"}},"messageSignature":{}}`,
		"dsse no sigs":       `{"mediaType":"` + BundleMediaType + `","verificationMaterial":{"publicKey":{"hint":"x"}},"dsseEnvelope":{"payload":"e30=","payloadType":"t"}}`,
		"dsse no type":       `{"mediaType":"` + BundleMediaType + `","verificationMaterial":{"publicKey":{"hint":"x"}},"dsseEnvelope":{"payload":"e30=","signatures":[{"sig":"AA=="}]}}`,
		"bad base64":         `{"mediaType":"` + BundleMediaType + `","verificationMaterial":{"publicKey":{"hint":"x"}},"messageSignature":{"signature":"!!"}}`,
		"oversized":          strings.Repeat(" ", MaxBlobSize+1),
		"not json":           `[`,
	}
	for name, in := range bad {
		if _, err := ParseBundle([]byte(in)); !errors.Is(err, ErrMalformedBundle) {
			t.Errorf("%s: got %v, want ErrMalformedBundle", name, err)
		}
	}
}

func TestParseTrustedRoot(t *testing.T) {
	if _, err := ParseTrustedRoot([]byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{}`, `{"mediaType":"x"}`, `nope`} {
		if _, err := ParseTrustedRoot([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	// A PEM file given as a trusted root is told what a trusted root is.
	_, err := ParseTrustedRoot([]byte("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"))
	if err == nil || !strings.Contains(err.Error(), "not a trusted root: a trusted root is a JSON object") {
		t.Errorf("a PEM file: %v", err)
	}
}

func TestAttestationStatementKeysAreExact(t *testing.T) {
	good := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}],"predicateType":"A","predicate":{}}`
	st, err := ParseAttestationStatement([]byte(good))
	if err != nil || st.PredicateType != "A" || st.Subject[0].Digest["sha256"] != "ab" {
		t.Fatalf("%+v %v", st, err)
	}
	for _, bad := range []string{
		`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}],"predicateType":"A","PREDICATETYPE":"B","predicate":{}}`,
		`{"_type":"https://in-toto.io/Statement/v1","Subject":[{"digest":{"sha256":"cd"}}],"subject":[{"digest":{"sha256":"ab"}}],"predicateType":"A"}`,
		`{"_TYPE":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}],"predicateType":"A"}`,
		`{"_type":"https://in-toto.io/Statement/v1","subject":[{"Digest":{"sha256":"cd"},"digest":{"sha256":"ab"}}],"predicateType":"A"}`,
		`{"_type":"https://in-toto.io/Statement/v1","subject":[{"NAME":"x","digest":{"sha256":"ab"}}],"predicateType":"A"}`,
	} {
		if _, err := ParseAttestationStatement([]byte(bad)); err == nil || !strings.Contains(err.Error(), "case-sensitive") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
