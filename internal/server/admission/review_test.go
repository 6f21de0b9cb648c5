package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"hallmark.dev/hallmark/pkg/admit"
	"hallmark.dev/hallmark/pkg/imagepolicy"
)

// staticEngine decides with a static policy: images under pass/ pass,
// under fail/ fail, under warn/ fail in warn mode.
func staticEngine(t *testing.T) *admit.Engine {
	t.Helper()
	doc := `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: %s}
spec:
  mode: %s
  images: [{glob: "registry.example/%s/**"}]
  authorities: [{name: static, static: {action: %s, message: "because"}}]
`
	var all []byte
	for _, p := range [][4]string{{"pass", "enforce", "pass", "pass"}, {"fail", "enforce", "fail", "fail"}, {"warn", "warn", "warn", "fail"}} {
		all = append(all, fmt.Sprintf(doc+"---\n", p[0], p[1], p[2], p[3])...)
	}
	ps, err := imagepolicy.Parse("static.yaml", all)
	if err != nil {
		t.Fatal(err)
	}
	e, err := admit.New(admit.Config{Policies: ps, NoMatch: admit.NoMatchAllow})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func review(kind, op, sub string, obj any) []byte {
	raw, _ := json.Marshal(obj)
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{
			"uid": "u-1", "kind": map[string]string{"group": "", "version": "v1", "kind": kind},
			"resource":  map[string]string{"group": "", "version": "v1", "resource": strings.ToLower(kind) + "s"},
			"namespace": "team", "operation": op, "subResource": sub, "name": "x",
			"userInfo": map[string]any{"username": "admin"}, "object": json.RawMessage(raw),
		},
	})
	return b
}

func podSpecWith(images ...string) map[string]any {
	var cs []map[string]string
	for i, im := range images {
		cs = append(cs, map[string]string{"name": fmt.Sprintf("c%d", i), "image": im})
	}
	return map[string]any{"containers": cs, "initContainers": []map[string]string{{"name": "init", "image": images[0]}}}
}

const digest = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestWorkloadKinds: the images of every workload kind are found where the
// kind keeps its pod template, and a denial names them.
func TestWorkloadKinds(t *testing.T) {
	rv := &Reviewer{Engine: func() *admit.Engine { return staticEngine(t) }}
	spec := podSpecWith("registry.example/pass/a"+digest, "registry.example/fail/b"+digest)
	tmpl := map[string]any{"template": map[string]any{"spec": spec}}
	objects := map[string]map[string]any{
		"Pod":                   {"spec": spec},
		"Deployment":            {"spec": tmpl},
		"ReplicaSet":            {"spec": tmpl},
		"StatefulSet":           {"spec": tmpl},
		"DaemonSet":             {"spec": tmpl},
		"Job":                   {"spec": tmpl},
		"ReplicationController": {"spec": tmpl},
		"CronJob":               {"spec": map[string]any{"jobTemplate": map[string]any{"spec": tmpl}}},
	}
	for kind, obj := range objects {
		obj["metadata"] = map[string]any{"name": "x"}
		out, err := rv.Review(t.Context(), review(kind, "CREATE", "", obj), Validate)
		if err != nil {
			t.Fatal(err)
		}
		r := out.Response
		if r.Allowed || r.UID != "u-1" || !strings.Contains(r.Result.Message, "registry.example/fail/b") || !strings.Contains(r.Result.Message, "ClusterImagePolicy/fail") {
			t.Errorf("%s: allowed %v uid %q message %v", kind, r.Allowed, r.UID, r.Result)
		}
	}
}

// TestWhatIsNotJudged: deletes, status and scale updates, objects being
// deleted and kinds without pods are allowed without a look.
func TestWhatIsNotJudged(t *testing.T) {
	rv := &Reviewer{Engine: func() *admit.Engine { return staticEngine(t) }}
	bad := map[string]any{"metadata": map[string]any{"name": "x"}, "spec": podSpecWith("registry.example/fail/b" + digest)}
	deleting := map[string]any{"metadata": map[string]any{"name": "x", "deletionTimestamp": "2026-11-30T00:00:00Z"}, "spec": podSpecWith("registry.example/fail/b" + digest)}
	for _, c := range []struct {
		kind, op, sub string
		obj           any
	}{{"Pod", "DELETE", "", bad}, {"Pod", "UPDATE", "status", bad}, {"Deployment", "UPDATE", "scale", bad}, {"Pod", "UPDATE", "", deleting}, {"ConfigMap", "CREATE", "", bad}} {
		out, err := rv.Review(t.Context(), review(c.kind, c.op, c.sub, c.obj), Validate)
		if err != nil || !out.Response.Allowed {
			t.Errorf("%s %s %s: %v %+v", c.op, c.kind, c.sub, err, out)
		}
	}
	// An ephemeral container added to a running pod is judged.
	out, _ := rv.Review(t.Context(), review("Pod", "UPDATE", "ephemeralcontainers", map[string]any{"spec": map[string]any{
		"containers":          []map[string]string{{"name": "a", "image": "registry.example/pass/a" + digest}},
		"ephemeralContainers": []map[string]string{{"name": "debug", "image": "registry.example/fail/debug" + digest}}}}), Validate)
	if out.Response.Allowed || !strings.Contains(out.Response.Result.Message, "fail/debug") {
		t.Errorf("ephemeral container: %+v", out.Response)
	}
}

// TestWarnMode: a warn-mode failure allows with a warning short enough for
// the apiserver, the full text in the audit annotation.
func TestWarnMode(t *testing.T) {
	rv := &Reviewer{Engine: func() *admit.Engine { return staticEngine(t) }}
	long := "registry.example/warn/" + strings.Repeat("team/", 40) + "app" + digest
	out, err := rv.Review(t.Context(), review("Pod", "CREATE", "", map[string]any{"spec": podSpecWith(long)}), Validate)
	if err != nil {
		t.Fatal(err)
	}
	r := out.Response
	if !r.Allowed || len(r.Warnings) != 1 || len(r.Warnings[0]) > 256 || !strings.Contains(r.AuditAnnotations["warnings"], "because") {
		t.Errorf("warn: %+v", r)
	}
}

// TestBadRequests: what is not an AdmissionReview is a 400 naming why;
// other methods and paths are refused.
func TestBadRequests(t *testing.T) {
	h := NewHandler(&Reviewer{Engine: func() *admit.Engine { return staticEngine(t) }}, 0)
	for _, c := range []struct {
		method, path, body string
		code               int
		says               string
	}{
		{"POST", "/validate", "{", 400, "not an AdmissionReview"},
		{"POST", "/validate", `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}`, 400, "want admission.k8s.io/v1"},
		{"POST", "/validate", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, 400, "no request"},
		{"GET", "/validate", "", 405, "POST"},
		{"POST", "/other", "{}", 404, "/validate"},
		{"POST", "/mutate", strings.Repeat(" ", maxBody+1), 413, "too large"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, strings.NewReader(c.body)))
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.says) {
			t.Errorf("%s %s: %d %q; want %d saying %q", c.method, c.path, rec.Code, rec.Body.String(), c.code, c.says)
		}
	}
}

// TestAnswerBudget: the apiserver's ?timeout= sets the deadline, less a
// margin for the answer's way back.
func TestAnswerBudget(t *testing.T) {
	for q, want := range map[string]time.Duration{"": 9 * time.Second, "?timeout=10s": 9 * time.Second, "?timeout=2s": 1750 * time.Millisecond, "?timeout=30s": 28 * time.Second, "?timeout=junk": 9 * time.Second} {
		if got := answerBudget(httptest.NewRequest("POST", "/validate"+q, nil), 10*time.Second); got != want {
			t.Errorf("%q: %v, want %v", q, got, want)
		}
	}
}

// TestMutatePatch: the mutating path answers a JSON patch (allowed) and
// the handler's answer is an AdmissionReview.
func TestMutatePatch(t *testing.T) {
	rv := &Reviewer{Engine: func() *admit.Engine { return staticEngine(t) }}
	h := NewHandler(rv, time.Second)
	body := review("Pod", "CREATE", "", map[string]any{"spec": podSpecWith("registry.example/pass/a" + digest)})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/mutate?timeout=5s", bytes.NewReader(body)))
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusOK || !out.Response.Allowed {
		t.Fatalf("%d %v %s", rec.Code, err, rec.Body)
	}
	// Digest references need no patch.
	if len(out.Response.Patch) != 0 {
		t.Errorf("patch for a digest reference: %s", out.Response.Patch)
	}
}

// TestImageVolumesAndPinning: an image volume is judged like a container;
// on the validating path a tag a pinning policy matches must have been
// pinned by the mutating webhook.
func TestImageVolumesAndPinning(t *testing.T) {
	rv := &Reviewer{Engine: func() *admit.Engine { return staticEngine(t) }}
	spec := map[string]any{
		"containers": []map[string]string{{"name": "app", "image": "registry.example/pass/app" + digest}},
		"volumes":    []map[string]any{{"name": "payload", "image": map[string]string{"reference": "registry.example/fail/payload" + digest}}},
	}
	out, _ := rv.Review(t.Context(), review("Pod", "CREATE", "", map[string]any{"spec": spec}), Validate)
	if out.Response.Allowed || !strings.Contains(out.Response.Result.Message, "fail/payload") {
		t.Errorf("image volume: %+v", out.Response)
	}
	tag := map[string]any{"spec": podSpecWith("registry.example/pass/app:v1")}
	out, _ = rv.Review(t.Context(), review("Pod", "CREATE", "", tag), Validate)
	if out.Response.Allowed || !strings.Contains(out.Response.Result.Message, "pinned to a digest by the mutating webhook") {
		t.Errorf("an unpinned tag on the validating path: %+v", out.Response)
	}
}

// A denial names the object: the request's name, else the object's, else its
// generateName and "*".
func TestObjectName(t *testing.T) {
	req := func(name string) *admissionv1.AdmissionRequest {
		r := &admissionv1.AdmissionRequest{Name: name, Namespace: "team"}
		r.Kind.Kind = "Pod"
		return r
	}
	for _, c := range []struct {
		req       *admissionv1.AdmissionRequest
		obj, want string
	}{
		{req("x"), `{"metadata":{"name":"y"}}`, "Pod team/x"},
		{req(""), `{"metadata":{"name":"y"}}`, "Pod team/y"},
		{req(""), `{"metadata":{"generateName":"web-"}}`, "Pod team/web-*"},
	} {
		if got := objectName(c.req, []byte(c.obj)); got != c.want {
			t.Errorf("objectName(name %q, %s) = %q, want %q", c.req.Name, c.obj, got, c.want)
		}
	}
}
