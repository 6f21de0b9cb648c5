package imagepolicy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// GlobStyle is how a policy's image patterns read.
type GlobStyle string

const (
	// SigstoreGlob is policy-controller's: the image is normalized
	// (index.docker.io/library/...), "*" stays inside a path segment and
	// "**" crosses them; a pattern that names no registry means Docker Hub.
	SigstoreGlob GlobStyle = "sigstore"
	// KyvernoGlob is Kyverno's wildcard: "*" matches anything, "/"
	// included, "?" one character, against the image as written and in
	// its normalized form.
	KyvernoGlob GlobStyle = "kyverno"
)

// matcher is a compiled pattern.
type matcher struct {
	pattern string
	re      *regexp.Regexp
}

func compileGlob(pattern string, style GlobStyle) (matcher, error) {
	if pattern == "" {
		return matcher{}, fmt.Errorf("empty image pattern")
	}
	p := pattern
	var b strings.Builder
	b.WriteString("^")
	switch style {
	case KyvernoGlob:
		for _, r := range p {
			switch r {
			case '*':
				b.WriteString(".*")
			case '?':
				b.WriteString(".")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
	default:
		p = normalizeGlob(p)
		for i := 0; i < len(p); i++ {
			switch {
			case strings.HasPrefix(p[i:], "**"):
				b.WriteString(".*")
				i++
			case p[i] == '*':
				b.WriteString("[^/]*")
			case p[i] == '?':
				b.WriteString("[^/]")
			default:
				b.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return matcher{}, fmt.Errorf("image pattern %q: %w", pattern, err)
	}
	return matcher{pattern: pattern, re: re}, nil
}

// normalizeGlob gives a sigstore glob naming no registry Docker Hub's, as
// policy-controller documents: "nginx*" is index.docker.io/library/nginx*;
// its two special globs "*" and "*/*" are Docker Hub's official and user
// images.
func normalizeGlob(p string) string {
	switch {
	case p == "*":
		return "index.docker.io/library/*"
	case p == "*/*":
		return "index.docker.io/*/*"
	case strings.HasPrefix(p, "**"):
		return p
	}
	first, _, hasSlash := strings.Cut(p, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost" || strings.Contains(first, "*")) {
		return p
	}
	if !hasSlash {
		return "index.docker.io/library/" + p
	}
	return "index.docker.io/" + p
}

// ImageForms are the strings an image reference is matched as: as written,
// and normalized with its registry and (for Docker Hub) library/.
func ImageForms(image string) []string {
	forms := []string{image}
	ref, err := name.ParseReference(image, name.WeakValidation)
	if err != nil {
		return forms
	}
	full := ref.Context().Name()
	switch r := ref.(type) {
	case name.Tag:
		full += ":" + r.TagStr()
	case name.Digest:
		full += "@" + r.DigestStr()
	}
	if full != image {
		forms = append(forms, full)
	}
	// Docker Hub is also written docker.io, and Kyverno matches it
	// without library/.
	if strings.HasPrefix(full, name.DefaultRegistry+"/") {
		rest := strings.TrimPrefix(full, name.DefaultRegistry+"/")
		forms = append(forms, "docker.io/"+rest)
		if strings.HasPrefix(rest, "library/") {
			forms = append(forms, "docker.io/"+strings.TrimPrefix(rest, "library/"))
		}
	}
	// A pattern without tag or digest matches the repository.
	forms = append(forms, ref.Context().Name())
	return forms
}

func (m matcher) match(forms []string) bool {
	for _, f := range forms {
		if m.re.MatchString(f) {
			return true
		}
	}
	return false
}
