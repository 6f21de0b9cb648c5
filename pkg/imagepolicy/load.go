package imagepolicy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	cipAPI     = "policy.sigstore.dev/v1beta1"
	cipAPIv1a1 = "policy.sigstore.dev/v1alpha1"
	kyvernoAPI = "kyverno.io/v1"
	// kyvernoV2beta1 is read as v1: its verifyImages rules are the same.
	kyvernoV2beta1 = "kyverno.io/v2beta1"
)

// LoadPaths reads every policy in the files and directories given (YAML
// or JSON files, several documents each; a directory's *.yaml, *.yml and
// *.json files, not recursively). Documents of other kinds are an error:
// a policy directory holds policies.
func LoadPaths(paths []string) ([]*Policy, error) {
	var out []*Policy
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("policies: %w", err)
		}
		files := []string{p}
		if st.IsDir() {
			files = nil
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("policies: %w", err)
			}
			for _, e := range entries {
				if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("policies: %s holds no .yaml, .yml or .json file", p)
			}
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("policies: %w", err)
			}
			ps, err := Parse(f, data)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
	}
	names := map[string]string{}
	for _, p := range out {
		if prev, dup := names[p.Name]; dup {
			return nil, fmt.Errorf("policies: %s is defined twice (%s and %s)", p.Name, prev, p.Source)
		}
		names[p.Name] = p.Source
	}
	return out, nil
}

// Parse reads the policies in one file's documents; source names the file
// in errors.
func Parse(source string, data []byte) ([]*Policy, error) {
	var out []*Policy
	for i, doc := range splitDocuments(data) {
		where := fmt.Sprintf("%s (document %d)", source, i+1)
		ps, err := ParseDocument(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		for _, p := range ps {
			p.Source = source
		}
		out = append(out, ps...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no ClusterImagePolicy and no Kyverno verifyImages rule", source)
	}
	return out, nil
}

// ParseDocument reads one YAML or JSON document: a ClusterImagePolicy or
// a Kyverno ClusterPolicy/Policy (whose rules without verifyImages give
// nothing). Unknown fields are refused, naming the field.
func ParseDocument(doc []byte) ([]*Policy, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return nil, fmt.Errorf("not YAML or JSON: %w", err)
	}
	switch {
	case head.Kind == "ClusterImagePolicy" && (head.APIVersion == cipAPI || head.APIVersion == cipAPIv1a1):
		var c ClusterImagePolicy
		if err := yaml.UnmarshalStrict(doc, &c); err != nil {
			return nil, fmt.Errorf("ClusterImagePolicy: %w", err)
		}
		p, err := FromClusterImagePolicy(&c)
		if err != nil {
			return nil, err
		}
		return []*Policy{p}, nil
	case (head.Kind == "ClusterPolicy" || head.Kind == "Policy") && (head.APIVersion == kyvernoAPI || head.APIVersion == kyvernoV2beta1):
		var k KyvernoPolicy
		if err := yaml.UnmarshalStrict(doc, &k); err != nil {
			return nil, fmt.Errorf("%s: %w", head.Kind, err)
		}
		return FromKyverno(&k)
	case head.Kind == "List" || head.Kind == "":
		return nil, fmt.Errorf("apiVersion %q kind %q: want a ClusterImagePolicy (%s) or a Kyverno ClusterPolicy/Policy (%s)", head.APIVersion, head.Kind, cipAPI, kyvernoAPI)
	}
	known := []string{"ClusterImagePolicy", "ClusterPolicy", "Policy"}
	if slices.Contains(known, head.Kind) {
		return nil, fmt.Errorf("%s with apiVersion %q: want %s for ClusterImagePolicy, %s for Kyverno", head.Kind, head.APIVersion, cipAPI, kyvernoAPI)
	}
	return nil, fmt.Errorf("kind %q (%s) is not a policy: want ClusterImagePolicy or a Kyverno ClusterPolicy/Policy", head.Kind, head.APIVersion)
}

// splitDocuments splits a YAML stream into its documents ("---" lines,
// with or without a comment after them), dropping empty ones.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if err != nil {
			return docs
		}
		if strings.TrimSpace(stripComments(string(doc))) != "" {
			docs = append(docs, doc)
		}
	}
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); !strings.HasPrefix(t, "#") && t != "---" && !strings.HasPrefix(t, "--- #") {
			b.WriteString(t)
		}
	}
	return b.String()
}
