package registry

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// referrersPath splits /v2/<repo>/referrers/<digest>.
func referrersPath(p string) (repo string, ok bool) {
	rest, found := strings.CutPrefix(p, "/v2/")
	if !found {
		return "", false
	}
	i := strings.LastIndex(rest, "/referrers/")
	if i <= 0 {
		return "", false
	}
	return rest[:i], true
}

// serveReferrers answers the OCI 1.1 referrers API as the spec says: each
// descriptor's artifactType is the manifest's artifactType, falling back to
// its config media type (go-containerregistry's handler always reports the
// config media type), and the artifactType query filter is applied.
func (r *Registry) serveReferrers(w http.ResponseWriter, req *http.Request, repo string) {
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, req)
	var idx v1.IndexManifest
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &idx) != nil {
		copyRecorder(w, rec)
		return
	}
	filter := req.URL.Query().Get("artifactType")
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		if at := r.manifestArtifactType(repo, d.Digest.String()); at != "" {
			d.ArtifactType = at
		}
		if filter == "" || d.ArtifactType == filter {
			kept = append(kept, d)
		}
	}
	idx.Manifests = kept
	body, err := json.Marshal(idx)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	w.Header().Set("Content-Type", string(idx.MediaType))
	if filter != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (r *Registry) manifestArtifactType(repo, digest string) string {
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/"+repo+"/manifests/"+digest, nil))
	if rec.Code != http.StatusOK {
		return ""
	}
	var m struct {
		ArtifactType string `json:"artifactType"`
	}
	if json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		return ""
	}
	return m.ArtifactType
}

func copyRecorder(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}
