package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
)

// TestPolicyTestAndReview: `policy test` decides images with reasons and
// exit codes (0 allowed, 12 denied, 14 undecided); `admission review`
// answers an AdmissionReview from a file as the webhooks would, with the
// digest patch when allowed; `policy convert` writes the other language.
func TestPolicyTestAndReview(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	key, pub := shared(t)
	signed := hallmarktest.PushImage(t, reg.Host, "app:v1", "signed")
	unsigned := hallmarktest.PushImage(t, reg.Host, "app:v2", "unsigned")
	mustHM(t, 0, pw, "sign", "--key", key, signed.String())
	throttled, _ := hallmarktest.StatusRegistry(t, http.StatusTooManyRequests)
	pemData := strings.ReplaceAll(strings.TrimSpace(mustRead(t, pub)), "\n", "\n        ")
	policy := writeFile(t, filepath.Join(t.TempDir(), "policy.yaml"), fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: release}
spec:
  images: [{glob: "%s/app*"}, {glob: "%s/app*"}]
  authorities:
  - name: release-key
    key:
      data: |
        %s
`, reg.Host, throttled, pemData))

	r := mustHM(t, 0, nil, "policy", "test", "--policy", policy, reg.Host+"/app:v1")
	wantContains(t, r.stdout, "ALLOWED "+reg.Host+"/app:v1 ("+signed.DigestStr()+")", "pass ClusterImagePolicy/release", "signed by key sha256:")
	r = mustHM(t, exitNoMatchingSig, nil, "policy", "test", "--policy", policy, signed.String(), unsigned.String())
	wantContains(t, r.stdout, "DENIED "+unsigned.String()+"\n", "authority release-key: no signatures found")
	r = mustHM(t, exitRegistryFailure, nil, "policy", "test", "--policy", policy, throttled+"/app@sha256:"+strings.Repeat("e", 64))
	wantContains(t, r.stdout, "undecided", "throttling (429")
	r = mustHM(t, exitNoMatchingSig, nil, "policy", "test", "--policy", policy, "elsewhere.example/x:v1")
	wantContains(t, r.stdout, "DENIED elsewhere.example/x:v1\n", "no policy matches it")
	r = mustHM(t, 0, nil, "policy", "test", "--policy", policy, "--no-match", "allow", "elsewhere.example/x:v1")
	wantContains(t, r.stdout, "ALLOWED elsewhere.example/x:v1\n", "no policy matches it")
	mustHM(t, 0, nil, "policy", "test", "--policy", policy, "--no-match", "allow", "elsewhere.example/x:v1")
	r = mustHM(t, exitUsage, nil, "policy", "test", "--policy", writeFile(t, filepath.Join(t.TempDir(), "bad.yaml"), "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: x}\nspec: {images: [{glob: a}], authoritees: []}\n"), "x")
	wantContains(t, r.stderr, "bad.yaml (document 1)", `unknown field "authoritees"`)

	pod := func(image string) string {
		obj, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p", "namespace": "team"},
			"spec": map[string]any{"containers": []map[string]string{{"name": "app", "image": image}}}})
		b, _ := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": map[string]any{
			"uid": "7", "kind": map[string]string{"version": "v1", "kind": "Pod"}, "resource": map[string]string{"version": "v1", "resource": "pods"},
			"namespace": "team", "name": "p", "operation": "CREATE", "userInfo": map[string]any{}, "object": json.RawMessage(obj)}})
		return writeFile(t, filepath.Join(t.TempDir(), "review.json"), string(b))
	}
	var out struct {
		Response struct {
			UID     string `json:"uid"`
			Allowed bool   `json:"allowed"`
			Patch   string `json:"patch"`
			Status  struct {
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
	}
	r = mustHM(t, 0, nil, "admission", "review", "--policies", policy, pod(reg.Host+"/app:v1"))
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	patch, _ := base64.StdEncoding.DecodeString(out.Response.Patch)
	if !out.Response.Allowed || out.Response.UID != "7" || !strings.Contains(string(patch), `"path":"/spec/containers/0/image","value":"`+reg.Host+"/app:v1@"+signed.DigestStr()) {
		t.Errorf("review of a signed pod: %+v patch %s", out.Response, patch)
	}
	r = mustHM(t, 0, nil, "admission", "review", "--policies", policy, pod(unsigned.String()))
	out.Response.Allowed = true
	_ = json.Unmarshal([]byte(r.stdout), &out)
	if out.Response.Allowed || !strings.Contains(out.Response.Status.Message, "no signatures found") {
		t.Errorf("review of an unsigned pod: %+v", out.Response)
	}
	r = mustHM(t, exitUsage, nil, "admission", "review", "--policies", policy, writeFile(t, filepath.Join(t.TempDir(), "x.json"), `{"kind":"Pod"}`))
	wantContains(t, r.stderr, "want admission.k8s.io/v1 AdmissionReview")

	r = mustHM(t, 0, nil, "policy", "convert", "--to", "kyverno", policy)
	wantContains(t, r.stdout, "kind: ClusterPolicy", "imageReferences:", reg.Host+"/app*", "attestors:", "publicKeys:", "ignoreTlog: true")
	back := writeFile(t, filepath.Join(t.TempDir(), "kyverno.yaml"), r.stdout)
	r = mustHM(t, 0, nil, "policy", "test", "--policy", back, signed.String())
	wantContains(t, r.stdout, "ALLOWED")
	mustHM(t, exitNoMatchingSig, nil, "policy", "test", "--policy", back, unsigned.String())
	r = mustHM(t, 0, nil, "policy", "convert", "--to", "model", policy)
	wantContains(t, r.stdout, "name: ClusterImagePolicy/release", "requirements:")
}

// A policy that does not compile is named with its file, so that one file
// of a --policy directory can be found.
func TestPolicyErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "good.yaml"), `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: good}
spec:
  images: [{glob: "registry.example/good/**"}]
  authorities: [{name: static, static: {action: pass}}]
`)
	bad := writeFile(t, filepath.Join(dir, "bad.yaml"), `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: bad}
spec:
  images: [{glob: "registry.example/bad/**"}]
  authorities: [{name: release-key, key: {data: "not a key"}}]
`)
	r := mustHM(t, exitUsage, nil, "policy", "test", "--policy", dir, "registry.example/good/x:v1")
	wantContains(t, r.stderr, bad+": ClusterImagePolicy/bad authority \"release-key\"")
}
