package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func serve(t *testing.T, dir string) (string, func()) {
	t.Helper()
	r, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	return srv.Listener.Addr().String(), func() { srv.Close(); r.Close() }
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	host, stop := serve(t, dir)
	img, _ := random.Image(512, 2)
	tag, _ := name.NewTag(host + "/repo/app:v1")
	if err := remote.Write(tag, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	moved, _ := random.Image(256, 1)
	tag2, _ := name.NewTag(host + "/repo/app:moving")
	for _, im := range []v1.Image{img, moved} { // a tag moved: the last write wins after replay
		if err := remote.Write(tag2, im); err != nil {
			t.Fatal(err)
		}
	}
	stop()

	host, stop = serve(t, dir)
	defer stop()
	want, _ := img.Digest()
	got, err := remote.Image(mustTag(t, host+"/repo/app:v1"))
	if err != nil {
		t.Fatalf("image gone after restart: %v", err)
	}
	if d, _ := got.Digest(); d != want {
		t.Fatalf("digest %s after restart, want %s", d, want)
	}
	if _, err := got.RawConfigFile(); err != nil {
		t.Fatalf("config blob gone after restart: %v", err)
	}
	movedDigest, _ := moved.Digest()
	desc, err := remote.Head(mustTag(t, host+"/repo/app:moving"))
	if err != nil || desc.Digest != movedDigest {
		t.Fatalf("moved tag replayed to %v (%v), want %s", desc, err, movedDigest)
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func TestTornJournalTailIsDropped(t *testing.T) {
	dir := t.TempDir()
	host, stop := serve(t, dir)
	img, _ := random.Image(64, 1)
	if err := remote.Write(mustTag(t, host+"/r:a"), img); err != nil {
		t.Fatal(err)
	}
	stop()
	j := filepath.Join(dir, "manifests.jsonl")
	f, _ := os.OpenFile(j, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"op":"put","repo":"r","ref":"b","bo`) // a crash mid-append
	f.Close()
	host, stop = serve(t, dir)
	defer stop()
	if _, err := remote.Head(mustTag(t, host+"/r:a")); err != nil {
		t.Fatalf("acknowledged manifest lost: %v", err)
	}
	// The journal is whole again: the next append is readable after restart.
	if err := remote.Write(mustTag(t, host+"/r:c"), img); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(j)
	if strings.Contains(string(b), `"bo{`) || !strings.HasSuffix(string(b), "\n") {
		t.Fatalf("torn tail not truncated:\n%s", b)
	}
}

func TestCorruptJournalIsAnError(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "manifests.jsonl"), []byte("not json\n"), 0o600)
	if _, err := Open(dir, nil); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("got %v, want a corrupt-journal error", err)
	}
}

// The referrers API reports a manifest's own artifactType and applies the
// artifactType filter (go-containerregistry's handler reports the config
// media type and ignores the filter).
func TestReferrersArtifactType(t *testing.T) {
	host, stop := serve(t, t.TempDir())
	defer stop()
	img, _ := random.Image(64, 1)
	tag := mustTag(t, host+"/r:v1")
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	subject, _ := remote.Head(tag)
	put := func(artifactType string) {
		cfg := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
		if err := remote.WriteLayer(tag.Context(), cfg); err != nil {
			t.Fatal(err)
		}
		cd, _ := cfg.Digest()
		m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: artifactType,
			Config: v1.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: cd, Size: 2},
			Layers: []v1.Descriptor{}, Subject: &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}}
		raw, _ := json.Marshal(m)
		h, _, _ := v1.SHA256(bytes.NewReader(raw))
		req, _ := http.NewRequest(http.MethodPut, "http://"+host+"/v2/r/manifests/"+h.String(), bytes.NewReader(raw))
		req.Header.Set("Content-Type", string(types.OCIManifestSchema1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("put referrer: %v %v", err, resp.Status)
		}
		resp.Body.Close()
	}
	put("application/vnd.example.a")
	put("application/vnd.example.b")
	get := func(q string) (v1.IndexManifest, http.Header) {
		resp, err := http.Get("http://" + host + "/v2/r/referrers/" + subject.Digest.String() + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var im v1.IndexManifest
		json.NewDecoder(resp.Body).Decode(&im)
		return im, resp.Header
	}
	all, _ := get("")
	types := map[string]bool{}
	for _, d := range all.Manifests {
		types[d.ArtifactType] = true
	}
	if len(all.Manifests) != 2 || !types["application/vnd.example.a"] || !types["application/vnd.example.b"] {
		t.Fatalf("referrers %+v", all.Manifests)
	}
	filtered, h := get("?artifactType=application/vnd.example.b")
	if len(filtered.Manifests) != 1 || filtered.Manifests[0].ArtifactType != "application/vnd.example.b" || h.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("filtered referrers %+v, header %q", filtered.Manifests, h.Get("OCI-Filters-Applied"))
	}
}

func TestOversizedManifestRefused(t *testing.T) {
	host, stop := serve(t, t.TempDir())
	defer stop()
	req, _ := http.NewRequest(http.MethodPut, "http://"+host+"/v2/r/manifests/v1", bytes.NewReader(make([]byte, maxManifestSize+1)))
	req.Header.Set("Content-Type", string(types.OCIManifestSchema1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

// TestManifestDigestChecked: a manifest PUT by digest must hash to it.
func TestManifestDigestChecked(t *testing.T) {
	host, stop := serve(t, t.TempDir())
	defer stop()
	img, _ := random.Image(64, 1)
	ref, _ := name.ParseReference(host + "/r:v1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	d, _ := img.Digest()
	put := func(refStr string, body []byte) (int, string) {
		req, _ := http.NewRequest(http.MethodPut, "http://"+host+"/v2/r/manifests/"+refStr, bytes.NewReader(body))
		req.Header.Set("Content-Type", string(types.OCIManifestSchema1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Errors []struct{ Code, Message string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if len(e.Errors) > 0 {
			return resp.StatusCode, e.Errors[0].Code + ": " + e.Errors[0].Message
		}
		return resp.StatusCode, ""
	}
	other := "sha256:" + strings.Repeat("0", 64)
	if code, msg := put(other, raw); code != http.StatusBadRequest || !strings.Contains(msg, "DIGEST_INVALID") || !strings.Contains(msg, d.String()) {
		t.Errorf("manifest under another digest: %d %s", code, msg)
	}
	if code, msg := put("md5:abc", raw); code != http.StatusBadRequest || !strings.Contains(msg, "unsupported algorithm") {
		t.Errorf("unknown digest algorithm: %d %s", code, msg)
	}
	if code, _ := put(d.String(), raw); code != http.StatusCreated {
		t.Errorf("manifest under its own digest: %d", code)
	}
	// Nothing was stored under the wrong name.
	resp, err := http.Get("http://" + host + "/v2/r/manifests/" + other)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET of the refused digest: %d, want 404", resp.StatusCode)
	}
}
