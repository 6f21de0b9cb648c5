package imagepolicy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Compile checks p and compiles its image patterns; Matches needs it.
func (p *Policy) Compile() error {
	if len(p.Images) == 0 {
		return fmt.Errorf("%s: no image patterns (images / imageReferences): the policy would match nothing", p.Name)
	}
	switch p.Mode {
	case Enforce, Warn:
	default:
		return fmt.Errorf("%s: mode %q; want enforce or warn", p.Name, p.Mode)
	}
	if len(p.Requirements) == 0 {
		return fmt.Errorf("%s: no authorities: the policy would admit every image it matches", p.Name)
	}
	for i, r := range p.Requirements {
		if len(r.Authorities) == 0 {
			return fmt.Errorf("%s: requirement %d has no authorities", p.Name, i)
		}
		if r.Count < 0 || r.Count > len(r.Authorities) {
			return fmt.Errorf("%s: count %d with %d authorities: want 1..%d", p.Name, r.Count, len(r.Authorities), len(r.Authorities))
		}
	}
	return p.CompileMatch()
}

// CompileMatchLenient compiles the image patterns that compile and drops
// the skip patterns (matching more is the safe side for a policy that
// failed to load and now denies what it names); it fails only when no
// image pattern compiles.
func (p *Policy) CompileMatchLenient() error {
	var images []matcher
	for _, g := range p.Images {
		if m, err := compileGlob(g, p.GlobStyle); err == nil {
			images = append(images, m)
		}
	}
	if len(images) == 0 {
		return fmt.Errorf("%s: no image pattern compiles", p.Name)
	}
	p.images, p.skip = images, nil
	return nil
}

// CompileMatch compiles only the image patterns: enough for Matches.
func (p *Policy) CompileMatch() error {
	var images, skip []matcher
	for _, g := range p.Images {
		m, err := compileGlob(g, p.GlobStyle)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		images = append(images, m)
	}
	for _, g := range p.Skip {
		m, err := compileGlob(g, p.GlobStyle)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		skip = append(skip, m)
	}
	if len(images) == 0 {
		return fmt.Errorf("%s: no image patterns", p.Name)
	}
	p.images, p.skip = images, skip
	return nil
}

// Matches reports whether the policy applies to image in a workload of
// kind, with labels, in namespace.
func (p *Policy) Matches(image, namespace, kind string, labels map[string]string) bool {
	return p.MatchesImage(NewImage(image), namespace, kind, labels)
}

// Image is an image reference with the forms it is matched as, computed
// once however many policies are asked about it.
type Image struct {
	ref                 string
	forms, skipForms    []string
	formsOnce, skipOnce sync.Once
}

// NewImage is ref, ready to be matched.
func NewImage(ref string) *Image { return &Image{ref: ref} }

func (im *Image) all() []string {
	im.formsOnce.Do(func() { im.forms = imageForms(im.ref, true) })
	return im.forms
}

func (im *Image) skip() []string {
	im.skipOnce.Do(func() { im.skipForms = imageForms(im.ref, false) })
	return im.skipForms
}

// MatchesImage is Matches for an Image.
func (p *Policy) MatchesImage(im *Image, namespace, kind string, labels map[string]string) bool {
	if p.Namespace != "" && p.Namespace != namespace {
		return false
	}
	if len(p.Namespaces) > 0 && !namespaceIn(namespace, p.Namespaces) {
		return false
	}
	if namespaceIn(namespace, p.ExcludeNamespaces) {
		return false
	}
	if len(p.Match) > 0 && !slices.ContainsFunc(p.Match, func(m Match) bool { return m.matches(kind, labels) }) {
		return false
	}
	forms := im.all()
	hit := false
	for _, m := range p.images {
		if m.match(forms) {
			hit = true
			break
		}
	}
	if !hit {
		return false
	}
	if len(p.skip) == 0 {
		return true
	}
	skipForms := im.skip()
	for _, m := range p.skip {
		if m.match(skipForms) {
			return false
		}
	}
	return true
}

func (m Match) matches(kind string, labels map[string]string) bool {
	if m.Kind != "" && m.Kind != kind {
		return false
	}
	for k, v := range m.Labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// namespaceIn reports whether ns matches one of the patterns (Kyverno's
// wildcards: * and ?).
func namespaceIn(ns string, patterns []string) bool {
	for _, p := range patterns {
		if WildcardMatch(p, ns) {
			return true
		}
	}
	return false
}

var wildcards sync.Map // pattern -> *regexp.Regexp

// WildcardMatch reports whether s matches Kyverno's wildcard pattern (* any
// characters, ? one; nothing else is special). Patterns are compiled once.
func WildcardMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	re, ok := wildcards.Load(pattern)
	if !ok {
		re, _ = wildcards.LoadOrStore(pattern, regexp.MustCompile(wildcardRegexp(pattern)))
	}
	return re.(*regexp.Regexp).MatchString(s)
}
