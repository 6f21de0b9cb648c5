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
	if host, _, ok := strings.Cut(p, "/"); ok && !strings.ContainsAny(host, "*?") {
		p = canonicalSpelling(p) // the pattern's registry in the spelling images are matched in
	}
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

// ImageForms are the strings an image reference is matched as: as
// written (its registry host in canonical form: lower case, no trailing
// dot, no :443, Docker Hub's other names as index.docker.io), normalized
// with its registry and (for Docker Hub) library/, Kyverno's docker.io
// spellings, the repository alone, and for repo:tag@digest (what the
// mutating webhook writes) the repo:tag forms too, so that a pattern naming
// a tag still matches after pinning.
func ImageForms(image string) []string { return imageForms(image, true) }

// imageForms is ImageForms; withTag false leaves out the repo:tag forms of
// a repo:tag@digest reference: a skip pattern naming a tag must not skip
// whatever digest is written after it (the runtime pulls the digest).
func imageForms(image string, withTag bool) []string {
	image = canonicalHost(image)
	var forms []string
	add := func(f string) {
		for _, x := range forms {
			if x == f {
				return
			}
		}
		forms = append(forms, f)
	}
	add(image)
	full := func(r name.Reference) {
		n := r.Context().Name()
		switch r := r.(type) {
		case name.Tag:
			n += ":" + r.TagStr()
		case name.Digest:
			n += "@" + r.DigestStr()
		}
		add(n)
		// Docker Hub is also written docker.io, and Kyverno matches it
		// without library/.
		if rest, ok := strings.CutPrefix(n, name.DefaultRegistry+"/"); ok {
			add("docker.io/" + rest)
			if short, ok := strings.CutPrefix(rest, "library/"); ok {
				add("docker.io/" + short)
			}
		}
		add(r.Context().Name()) // a pattern without tag or digest matches the repository
	}
	ref, err := name.ParseReference(image, name.WeakValidation)
	if err != nil {
		return forms
	}
	full(ref)
	if base, _, ok := strings.Cut(image, "@"); withTag && ok && strings.Contains(base[strings.LastIndex(base, "/")+1:], ":") {
		if tag, err := name.NewTag(base, name.WeakValidation); err == nil {
			add(base)
			full(tag)
		}
	}
	return forms
}

// canonicalSpelling writes the registry host of image in lower case,
// without a trailing dot or :443. (Patterns keep Docker Hub's aliases: the
// image forms carry each of its spellings.)
func canonicalSpelling(image string) string {
	host, rest, ok := strings.Cut(image, "/")
	if !ok || !(strings.ContainsAny(host, ".:") || strings.EqualFold(host, "localhost")) {
		return image
	}
	h := strings.ToLower(host)
	h = strings.TrimSuffix(h, ":443")
	h = strings.TrimSuffix(h, ".")
	return h + "/" + rest
}

// canonicalHost is canonicalSpelling with Docker Hub's other names as
// index.docker.io.
func canonicalHost(image string) string {
	image = canonicalSpelling(image)
	h, rest, ok := strings.Cut(image, "/")
	if !ok {
		return image
	}
	switch h {
	case "docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		h = name.DefaultRegistry
	}
	return h + "/" + rest
}

func (m matcher) match(forms []string) bool {
	for _, f := range forms {
		if m.re.MatchString(f) {
			return true
		}
	}
	return false
}
