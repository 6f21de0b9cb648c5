package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	prov02 "github.com/in-toto/attestation/go/predicates/provenance/v02"
	prov1 "github.com/in-toto/attestation/go/predicates/provenance/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Predicate checks raw against the --type t and returns the predicate type
// URI and the predicate to put in the statement:
//   - custom: cosign's wrapping, {"Data": the file as a string, "Timestamp"};
//   - spdx given as tag-value text: the text as a JSON string (as cosign);
//   - every other type: the file itself, a JSON object that must be a
//     document of that type.
func Predicate(t string, raw []byte, now time.Time) (string, json.RawMessage, error) {
	uri, err := PredicateURI(t)
	if err != nil {
		return "", nil, err
	}
	if uri == CustomURI {
		p, err := json.Marshal(map[string]string{"Data": string(raw), "Timestamp": now.UTC().Format(time.RFC3339)})
		return uri, p, err
	}
	if uri == SPDXURI && t == "spdx" && !looksJSON(raw) {
		if err := checkSPDXTagValue(raw); err != nil {
			return "", nil, err
		}
		p, err := json.Marshal(string(raw))
		return uri, p, err
	}
	obj, err := jsonObject(raw)
	if err != nil {
		return "", nil, fmt.Errorf("a %s predicate must be a JSON object: %w", nameOf(t, uri), err)
	}
	if uri == SLSA1URI {
		raw = renameInvocationID(raw, obj)
	}
	if check := checks[uri]; check != nil {
		if err := check(raw, obj); err != nil {
			return "", nil, fmt.Errorf("predicate is not a %s document: %w (use --type custom, or a type URI, for other content)", nameOf(t, uri), err)
		}
	}
	return uri, compact(raw), nil
}

func nameOf(t, uri string) string {
	if _, ok := shortTypes[t]; ok {
		return t
	}
	return uri
}

func looksJSON(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

func jsonObject(raw []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(raw))
	if err := d.Decode(&obj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("it is a JSON %s", te.Value)
		}
		return nil, err
	}
	if obj == nil {
		return nil, errors.New("it is null")
	}
	if d.More() {
		return nil, errors.New("there is more after the object")
	}
	return obj, nil
}

func compact(raw []byte) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// checks validate a predicate of each known type.
var checks = map[string]func(raw []byte, obj map[string]json.RawMessage) error{
	SLSA02URI:    checkSLSA02,
	SLSA1URI:     checkSLSA1,
	LinkURI:      checkLink,
	SPDXURI:      checkSPDXJSON,
	CycloneDXURI: checkCycloneDX,
	VulnURI:      checkVuln,
	OpenVEXURI:   checkOpenVEX,
}

func str(obj map[string]json.RawMessage, key string) string {
	var s string
	_ = json.Unmarshal(obj[key], &s)
	return s
}

func checkSLSA02(raw []byte, _ map[string]json.RawMessage) error {
	var p prov02.Provenance
	if err := protojson.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("SLSA v0.2 provenance: %w", err)
	}
	if p.GetBuilder().GetId() == "" {
		return errors.New("SLSA v0.2 provenance needs builder.id")
	}
	if p.GetBuildType() == "" {
		return errors.New("SLSA v0.2 provenance needs buildType")
	}
	return nil
}

func checkSLSA1(raw []byte, _ map[string]json.RawMessage) error {
	var p prov1.Provenance
	if err := protojson.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("SLSA v1 provenance: %w", err)
	}
	if p.GetBuildDefinition().GetBuildType() == "" {
		return errors.New("SLSA v1 provenance needs buildDefinition.buildType")
	}
	if p.GetRunDetails().GetBuilder().GetId() == "" {
		return errors.New("SLSA v1 provenance needs runDetails.builder.id")
	}
	return nil
}

// renameInvocationID writes runDetails.metadata.invocationID (which some
// generators emit) as the specification's invocationId, as cosign does.
func renameInvocationID(raw []byte, obj map[string]json.RawMessage) []byte {
	if !bytes.Contains(raw, []byte(`"invocationID"`)) {
		return raw
	}
	var rd map[string]json.RawMessage
	if json.Unmarshal(obj["runDetails"], &rd) != nil {
		return raw
	}
	var md map[string]json.RawMessage
	if json.Unmarshal(rd["metadata"], &md) != nil {
		return raw
	}
	v, ok := md["invocationID"]
	if !ok {
		return raw
	}
	delete(md, "invocationID")
	md["invocationId"] = v
	rd["metadata"], _ = json.Marshal(md)
	obj["runDetails"], _ = json.Marshal(rd)
	out, err := json.Marshal(obj)
	if err != nil {
		return raw
	}
	return out
}

func checkLink(_ []byte, obj map[string]json.RawMessage) error {
	for _, k := range []string{"_type", "name", "materials", "products", "byproducts", "command", "environment"} {
		if _, ok := obj[k]; !ok {
			return fmt.Errorf("in-toto link needs %s", k)
		}
	}
	return nil
}

func checkSPDXJSON(_ []byte, obj map[string]json.RawMessage) error {
	if v := str(obj, "spdxVersion"); !strings.HasPrefix(v, "SPDX-") {
		return fmt.Errorf("SPDX document needs spdxVersion \"SPDX-2.x\", got %q", v)
	}
	if str(obj, "SPDXID") == "" {
		return errors.New("SPDX document needs SPDXID")
	}
	return nil
}

func checkSPDXTagValue(raw []byte) error {
	for line := range strings.SplitSeq(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if v, ok := strings.CutPrefix(line, "SPDXVersion:"); ok && strings.HasPrefix(strings.TrimSpace(v), "SPDX-") {
			return nil
		}
		return fmt.Errorf("predicate is not an SPDX document: tag-value SPDX starts with \"SPDXVersion: SPDX-2.x\", not %q", truncate(line, 60))
	}
	return errors.New("predicate is empty, not an SPDX document")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func checkCycloneDX(_ []byte, obj map[string]json.RawMessage) error {
	if v := str(obj, "bomFormat"); v != "CycloneDX" {
		return fmt.Errorf("CycloneDX BOM needs bomFormat \"CycloneDX\", got %q", v)
	}
	if str(obj, "specVersion") == "" {
		return errors.New("CycloneDX BOM needs specVersion")
	}
	return nil
}

// vulnReport is cosign's vulnerability attestation predicate.
type vulnReport struct {
	Invocation *struct {
		Parameters any    `json:"parameters"`
		URI        string `json:"uri"`
		EventID    string `json:"event_id"`
		BuilderID  string `json:"builder.id"`
	} `json:"invocation"`
	Scanner *struct {
		URI     string `json:"uri"`
		Version string `json:"version"`
		DB      *struct {
			URI     string `json:"uri"`
			Version string `json:"version"`
		} `json:"db"`
		Result any `json:"result"`
	} `json:"scanner"`
	Metadata *struct {
		ScanStartedOn  time.Time `json:"scanStartedOn"`
		ScanFinishedOn time.Time `json:"scanFinishedOn"`
	} `json:"metadata"`
}

func checkVuln(raw []byte, _ map[string]json.RawMessage) error {
	var v vulnReport
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("cosign vulnerability report {invocation, scanner: {uri, version, db, result}, metadata}: %w (a scanner's own report goes in scanner.result)", err)
	}
	if v.Scanner == nil || v.Scanner.URI == "" {
		return errors.New("cosign vulnerability report needs scanner.uri")
	}
	return nil
}

func checkOpenVEX(_ []byte, obj map[string]json.RawMessage) error {
	if v := str(obj, "@context"); !strings.HasPrefix(v, OpenVEXURI) {
		return fmt.Errorf("OpenVEX document needs @context %q, got %q", OpenVEXURI+"/v0.2.0", v)
	}
	var st []json.RawMessage
	if err := json.Unmarshal(obj["statements"], &st); err != nil || st == nil {
		return errors.New("OpenVEX document needs a statements array")
	}
	return nil
}
