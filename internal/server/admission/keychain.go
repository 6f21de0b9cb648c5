package admission

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// dockerEntry is one registry's credentials in a docker config.
type dockerEntry struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
}

// pullKeychain resolves credentials from image pull secrets the way the
// kubelet matches them: by registry host (a leading *. matches one
// subdomain level), then the longest path prefix; the first secret that
// matches wins. Nothing matching is anonymous.
type pullKeychain struct {
	entries []keyedEntry
}

type keyedEntry struct {
	host, path string
	cfg        authn.AuthConfig
}

// parsePullSecret reads a kubernetes.io/dockerconfigjson (.dockerconfigjson)
// or kubernetes.io/dockercfg (.dockercfg) secret's data.
func parsePullSecret(name string, data map[string][]byte) ([]keyedEntry, error) {
	var auths map[string]dockerEntry
	switch {
	case data[".dockerconfigjson"] != nil:
		var cfg struct {
			Auths map[string]dockerEntry `json:"auths"`
		}
		if err := json.Unmarshal(data[".dockerconfigjson"], &cfg); err != nil {
			return nil, fmt.Errorf("pull secret %s: .dockerconfigjson: %w", name, err)
		}
		auths = cfg.Auths
	case data[".dockercfg"] != nil:
		if err := json.Unmarshal(data[".dockercfg"], &auths); err != nil {
			return nil, fmt.Errorf("pull secret %s: .dockercfg: %w", name, err)
		}
	default:
		return nil, fmt.Errorf("pull secret %s has neither .dockerconfigjson nor .dockercfg", name)
	}
	var out []keyedEntry
	for key, e := range auths {
		cfg := authn.AuthConfig{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken}
		if e.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("pull secret %s: auth of %s is not base64", name, key)
			}
			u, p, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("pull secret %s: auth of %s is not user:password", name, key)
			}
			cfg.Username, cfg.Password = u, p
		}
		host, p := splitRegistryKey(key)
		out = append(out, keyedEntry{host: host, path: p, cfg: cfg})
	}
	return out, nil
}

// splitRegistryKey turns "https://index.docker.io/v1/" or "ghcr.io/org"
// into host and path.
func splitRegistryKey(k string) (host, p string) {
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	host, p, _ = strings.Cut(k, "/")
	if host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" {
		host, p = "index.docker.io", ""
	}
	return host, strings.Trim(p, "/")
}

// hostMatches matches a host against a pattern label by label, as the
// kubelet does: as many labels, each a glob ("*.example.com" is one level).
func hostMatches(pattern, host string) bool {
	if pattern == host {
		return true
	}
	pl, hl := strings.Split(pattern, "."), strings.Split(host, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if ok, _ := path.Match(pl[i], hl[i]); !ok {
			return false
		}
	}
	return true
}

func (k *pullKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	host := r.RegistryStr()
	repo := ""
	if rr, ok := r.(interface{ RepositoryStr() string }); ok {
		repo = rr.RepositoryStr()
	}
	best, bestLen := -1, -1
	for i, e := range k.entries {
		if !hostMatches(e.host, host) {
			continue
		}
		if e.path != "" && repo != e.path && !strings.HasPrefix(repo, e.path+"/") {
			continue
		}
		if len(e.path) > bestLen {
			best, bestLen = i, len(e.path)
		}
	}
	if best < 0 {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(k.entries[best].cfg), nil
}
