package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"hallmark.dev/hallmark/pkg/admit"
)

// Mode is which webhook answers.
type Mode int

const (
	// Validate allows or denies, with reasons and warnings.
	Validate Mode = iota
	// Mutate pins tags to digests (always allows: denying is Validate's).
	Mutate
	// Both decides and, when allowed, pins: `hallmark admission review`.
	Both
)

// Credentials give the registry credentials a workload's pods pull with.
type Credentials interface {
	Keychain(ctx context.Context, namespace string, pullSecrets []string, serviceAccount string) (authn.Keychain, error)
}

// Reviewer answers AdmissionReviews with the current engine.
type Reviewer struct {
	Engine      func() *admit.Engine
	Credentials Credentials // nil: anonymous
	Logger      *slog.Logger
}

// ReviewError is a request that is not an AdmissionReview v1.
type ReviewError struct{ msg string }

func (e *ReviewError) Error() string { return e.msg }

// Review answers the AdmissionReview in body.
func (rv *Reviewer) Review(ctx context.Context, body []byte, mode Mode) (*admissionv1.AdmissionReview, error) {
	var in admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &ReviewError{"the body is not an AdmissionReview: " + err.Error()}
	}
	if in.APIVersion != "admission.k8s.io/v1" || in.Kind != "AdmissionReview" {
		return nil, &ReviewError{fmt.Sprintf("apiVersion %q kind %q; want admission.k8s.io/v1 AdmissionReview", in.APIVersion, in.Kind)}
	}
	if in.Request == nil {
		return nil, &ReviewError{"the AdmissionReview has no request"}
	}
	out := &admissionv1.AdmissionReview{TypeMeta: in.TypeMeta}
	out.Response = rv.respond(ctx, in.Request, mode)
	out.Response.UID = in.Request.UID
	return out, nil
}

func (rv *Reviewer) respond(ctx context.Context, req *admissionv1.AdmissionRequest, mode Mode) *admissionv1.AdmissionResponse {
	allow := &admissionv1.AdmissionResponse{Allowed: true}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return allow
	}
	if req.SubResource != "" && !(req.Kind.Kind == "Pod" && req.SubResource == "ephemeralcontainers") {
		return allow // status, scale, ...: no new image
	}
	obj := req.Object.Raw
	w, ok, err := readWorkload(req.Kind.Kind, obj)
	if !ok || len(obj) == 0 {
		return allow
	}
	if err != nil {
		return deny(http.StatusBadRequest, err.Error())
	}
	if w.Deleting {
		return allow
	}
	ar := admit.Request{Namespace: req.Namespace, Kind: req.Kind.Kind, Labels: w.Labels, Object: obj, RequireDigest: mode == Validate}
	for _, im := range w.Images {
		ar.Images = append(ar.Images, admit.Image{Path: im.Path, Ref: im.Image})
	}
	if rv.Credentials != nil {
		var secrets []string
		for _, s := range w.Spec.ImagePullSecrets {
			secrets = append(secrets, s.Name)
		}
		kc, err := rv.Credentials.Keychain(ctx, req.Namespace, secrets, w.Spec.ServiceAccountName)
		if err != nil {
			rv.log().Warn("pull secrets unreadable; registries are read anonymously", "namespace", req.Namespace, "error", err)
		} else {
			ar.Keychain = kc
		}
	}
	e := rv.Engine()
	if mode == Mutate {
		patches, warnings := e.Pin(ctx, ar)
		resp := &admissionv1.AdmissionResponse{Allowed: true, Warnings: shortWarnings(warnings)}
		setPatch(resp, patches)
		return resp
	}
	d := e.Decide(ctx, ar)
	what := objectName(req, obj)
	rv.log().Info("admission", "object", what, "allowed", d.Allowed, "images", len(d.Images), "denials", len(d.Denials), "warnings", len(d.Warnings))
	if !d.Allowed {
		resp := deny(http.StatusForbidden, fmt.Sprintf("hallmark: %s denied:\n- %s", what, strings.Join(d.Denials, "\n- ")))
		resp.Warnings = shortWarnings(d.Warnings)
		return resp
	}
	resp := &admissionv1.AdmissionResponse{Allowed: true, Warnings: shortWarnings(d.Warnings)}
	if len(d.Warnings) > 0 {
		resp.AuditAnnotations = map[string]string{"warnings": strings.Join(d.Warnings, "\n")}
	}
	if mode == Both {
		setPatch(resp, d.Patches)
	}
	return resp
}

func (rv *Reviewer) log() *slog.Logger {
	if rv.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rv.Logger
}

func deny(code int32, msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: code, Reason: metav1.StatusReasonForbidden, Message: msg}}
}

// jsonPatch is one RFC 6902 operation.
type jsonPatch struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

func setPatch(resp *admissionv1.AdmissionResponse, patches []admit.Patch) {
	if len(patches) == 0 {
		return
	}
	ops := make([]jsonPatch, len(patches))
	for i, p := range patches {
		ops[i] = jsonPatch{"replace", p.Path, p.Value}
	}
	resp.Patch, _ = json.Marshal(ops)
	pt := admissionv1.PatchTypeJSONPatch
	resp.PatchType = &pt
}

// shortWarnings keeps each warning within the 256 characters the
// apiserver passes on whole (the full text is in the audit annotation).
func shortWarnings(ws []string) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		if len(w) > 250 {
			w = w[:247] + "..."
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// objectName is Kind namespace/name: the request's name, else the object's,
// else its generateName and "*".
func objectName(req *admissionv1.AdmissionRequest, obj []byte) string {
	n := req.Name
	if n == "" {
		var m struct {
			Metadata struct {
				Name, GenerateName string
			} `json:"metadata"`
		}
		_ = json.Unmarshal(obj, &m)
		n = m.Metadata.Name
		if n == "" {
			n = m.Metadata.GenerateName + "*"
		}
	}
	if req.Namespace != "" {
		n = req.Namespace + "/" + n
	}
	return req.Kind.Kind + " " + n
}
