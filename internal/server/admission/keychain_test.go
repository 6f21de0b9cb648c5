package admission

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func resolve(t *testing.T, kc authn.Keychain, image string) string {
	t.Helper()
	ref, err := name.ParseReference(image)
	if err != nil {
		t.Fatal(err)
	}
	a, err := kc.Resolve(ref.Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Username + ":" + cfg.Password
}

// TestPullSecrets: registry credentials are matched as the kubelet matches
// them: by host (docker.io's spellings are one; *.example.com is one
// level), the longest path prefix first; nothing matching is anonymous.
func TestPullSecrets(t *testing.T) {
	auth := func(u, p string) string { return base64.StdEncoding.EncodeToString([]byte(u + ":" + p)) }
	cfg := `{"auths":{
		"https://index.docker.io/v1/":{"auth":"` + auth("hub", "h") + `"},
		"registry.example":{"username":"org","password":"o"},
		"registry.example/team":{"auth":"` + auth("team", "t") + `"},
		"*.mirror.example":{"auth":"` + auth("mirror", "m") + `"}}}`
	entries, err := parsePullSecret("ns/regcred", map[string][]byte{".dockerconfigjson": []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	old, err := parsePullSecret("ns/old", map[string][]byte{".dockercfg": []byte(`{"old.example":{"auth":"` + auth("old", "x") + `"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	kc := &pullKeychain{entries: append(entries, old...)}
	for image, want := range map[string]string{
		"nginx":                         "hub:h",
		"docker.io/library/nginx:1":     "hub:h",
		"registry.example/other/app":    "org:o",
		"registry.example/team/app":     "team:t",
		"registry.example/teammate/app": "org:o", // a path prefix is whole segments
		"eu.mirror.example/app":         "mirror:m",
		"a.eu.mirror.example/app":       ":", // one level only
		"old.example/app":               "old:x",
		"elsewhere.example/app":         ":",
	} {
		if got := resolve(t, kc, image); got != want {
			t.Errorf("%s: credentials %q, want %q", image, got, want)
		}
	}
	for name, data := range map[string]map[string][]byte{
		"no docker config":   {"token": []byte("x")},
		"not JSON":           {".dockerconfigjson": []byte("{")},
		"auth not base64":    {".dockerconfigjson": []byte(`{"auths":{"r.example":{"auth":"%%%"}}}`)},
		"auth without colon": {".dockerconfigjson": []byte(`{"auths":{"r.example":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("nocolon")) + `"}}}`)},
	} {
		if _, err := parsePullSecret("ns/bad", data); err == nil || !strings.Contains(err.Error(), "ns/bad") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
