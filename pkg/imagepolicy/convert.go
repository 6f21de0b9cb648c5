package imagepolicy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ToClusterImagePolicies writes p as ClusterImagePolicies: one per
// requirement, since every policy matching an image must pass (that is how
// a ClusterImagePolicy says "and"). What the language cannot say is an
// error naming it; notes are what changed in meaning.
func ToClusterImagePolicies(p *Policy, name string) (out []*ClusterImagePolicy, notes []string, err error) {
	if len(p.Skip) > 0 {
		return nil, nil, fmt.Errorf("%s: excluded images (skipImageReferences %v) have no ClusterImagePolicy equivalent", p.Name, p.Skip)
	}
	if p.Namespace != "" {
		return nil, nil, fmt.Errorf("%s: a namespaced policy (namespace %s) has no ClusterImagePolicy equivalent", p.Name, p.Namespace)
	}
	var globs []CIPImage
	for _, g := range p.Images {
		if p.GlobStyle == KyvernoGlob {
			ng := kyvernoToSigstoreGlob(g)
			if ng != g {
				notes = append(notes, fmt.Sprintf("image pattern %q became %q (a Kyverno * crosses /, a ClusterImagePolicy needs **)", g, ng))
			}
			g = ng
		}
		globs = append(globs, CIPImage{Glob: g})
	}
	if p.VerifyDigest && !p.MutateDigest {
		notes = append(notes, "verifyDigest (images must be pinned by digest) has no ClusterImagePolicy equivalent: dropped")
	}
	if p.ResultPolicy != nil && len(p.Requirements) > 1 {
		return nil, nil, fmt.Errorf("%s: a spec.policy over several requirements cannot be split into ClusterImagePolicies", p.Name)
	}
	match, err := cipMatch(p.Match)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	// Every matching ClusterImagePolicy must pass: a requirement that needs
	// all of its authorities is one policy per authority, which
	// policy-controller enforces too (it ignores hallmark.dev/count).
	var reqs []Requirement
	for _, r := range p.Requirements {
		if n := len(r.Authorities); n > 1 && r.Needed() == n && p.ResultPolicy == nil {
			for _, a := range r.Authorities {
				reqs = append(reqs, Requirement{Count: 1, Authorities: []Authority{a}})
			}
			continue
		}
		if n := r.Needed(); n > 1 {
			notes = append(notes, fmt.Sprintf("%d of %d authorities: hallmark.dev/count says it to Hallmark; policy-controller ignores the annotation (any one authority passes there; say it with spec.policy for both)", n, len(r.Authorities)))
		}
		reqs = append(reqs, r)
	}
	for ri, r := range reqs {
		c := &ClusterImagePolicy{APIVersion: cipAPI, Kind: "ClusterImagePolicy",
			Metadata: metav1.ObjectMeta{Name: name}, Spec: CIPSpec{Images: globs, Match: match}}
		if len(reqs) > 1 {
			c.Metadata.Name = fmt.Sprintf("%s-%d", name, ri)
		}
		if p.Mode == Warn {
			c.Spec.Mode = "warn"
		}
		if rp := p.ResultPolicy; rp != nil {
			t := true
			c.Spec.Policy = &CIPPolicy{Type: rp.Type, Data: rp.Data}
			if rp.IncludeSpec {
				c.Spec.Policy.IncludeSpec = &t
			}
			if rp.IncludeObjectMeta {
				c.Spec.Policy.IncludeObjectMeta = &t
			}
			if rp.IncludeTypeMeta {
				c.Spec.Policy.IncludeTypeMeta = &t
			}
		}
		ann := map[string]string{}
		if n := r.Needed(); n != 1 {
			ann[AnnotationCount] = strconv.Itoa(n)
		}
		if !p.MutateDigest {
			ann[AnnotationMutateDigest] = "false"
		}
		if p.FailOpen {
			ann[AnnotationFailOpen] = "true"
		}
		if len(ann) > 0 {
			c.Metadata.Annotations = ann
		}
		for ai, a := range r.Authorities {
			ca, err := toCIPAuthority(a, ai)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", p.Name, err)
			}
			if ca.CTLog != nil && ca.CTLog.URL == "" && ca.CTLog.TrustRootRef == "" {
				notes = append(notes, fmt.Sprintf("authority %s checks a transparency log: Hallmark reads ctlog: {} as that, under its --trusted-root; policy-controller needs ctlog.url or trustRootRef", ca.Name))
			}
			c.Spec.Authorities = append(c.Spec.Authorities, ca)
		}
		out = append(out, c)
	}
	return out, notes, nil
}

func kyvernoToSigstoreGlob(g string) string {
	return strings.ReplaceAll(strings.ReplaceAll(g, "**", "*"), "*", "**")
}

var kindResources = func() map[string]string {
	m := map[string]string{}
	for r, k := range resourceKinds {
		m[k] = r
	}
	return m
}()

func cipMatch(ms []Match) ([]CIPMatch, error) {
	if coversAllWorkloads(ms) {
		return nil, nil
	}
	var out []CIPMatch
	for _, m := range ms {
		r, ok := kindResources[m.Kind]
		if !ok {
			return nil, fmt.Errorf("kind %q has no ClusterImagePolicy match resource", m.Kind)
		}
		cm := CIPMatch{Resource: r, Version: "v1"}
		if r != "pods" && r != "replicationcontrollers" {
			cm.Group = "apps"
			if r == "jobs" || r == "cronjobs" {
				cm.Group = "batch"
			}
		}
		if len(m.Labels) > 0 {
			cm.Selector = &metav1.LabelSelector{MatchLabels: m.Labels}
		}
		out = append(out, cm)
	}
	return out, nil
}

func coversAllWorkloads(ms []Match) bool {
	if len(ms) == 0 {
		return true
	}
	for _, k := range workloadKinds {
		if !slices.ContainsFunc(ms, func(m Match) bool { return m.Kind == k && len(m.Labels) == 0 }) {
			return false
		}
	}
	return true
}

func toCIPAuthority(a Authority, i int) (CIPAuthority, error) {
	out := CIPAuthority{Name: cipName(a.Name, i), SignatureFormat: a.SignatureFormat}
	switch {
	case a.Static != nil:
		out.Static = &CIPStatic{Action: "fail", Message: a.Static.Message}
		if a.Static.Pass {
			out.Static.Action = "pass"
		}
	case a.Key != nil:
		out.Key = &CIPKey{Data: a.Key.PEM, HashAlgorithm: a.Key.HashAlgorithm}
		if r := a.Key.SecretRef; r != nil {
			out.Key = &CIPKey{SecretRef: &CIPSecretRef{Name: r.Name, Namespace: r.Namespace}, HashAlgorithm: a.Key.HashAlgorithm}
		}
	case a.Keyless != nil:
		k := a.Keyless
		if len(k.CTLogKeys) > 0 || k.TSAChain != "" {
			return out, fmt.Errorf("authority %s: CT log keys and TSA chains go in a trust root for a ClusterImagePolicy (trustRootRef)", out.Name)
		}
		out.Keyless = &CIPKeyless{Identities: k.Identities, TrustRootRef: a.TrustRoot}
		if k.CACert != "" {
			out.Keyless.CACert = &CIPKey{Data: k.CACert}
		}
		if k.IgnoreSCT {
			t := true
			out.Keyless.InsecureIgnoreSCT = &t
		}
		if k.UseSignedTimestamps {
			out.RFC3161Timestamp = &CIPTimestamp{TrustRootRef: a.TrustRoot}
		}
	}
	if len(a.TlogKeys) > 0 {
		return out, fmt.Errorf("authority %s: a Rekor public key goes in a trust root for a ClusterImagePolicy (trustRootRef)", out.Name)
	}
	switch {
	case a.Key != nil && !a.IgnoreTlog:
		out.CTLog = &CIPTlog{TrustRootRef: a.TrustRoot} // a key authority checks its log only with ctlog
	case a.Keyless != nil && a.IgnoreTlog && !a.Keyless.UseSignedTimestamps:
		return out, fmt.Errorf("authority %s: a keyless authority without a transparency log needs RFC 3161 timestamps in a ClusterImagePolicy", out.Name)
	}
	for _, s := range a.Sources {
		out.Sources = append(out.Sources, CIPSource{OCI: s})
	}
	for _, at := range a.Attestations {
		x := CIPAttestation{Name: at.Name, PredicateType: at.PredicateType}
		switch at.PolicyType {
		case "":
		case "rego", "cue":
			x.Policy = &CIPPolicy{Type: at.PolicyType, Data: at.Policy}
		default:
			return out, fmt.Errorf("authority %s: attestation %s: Kyverno conditions have no ClusterImagePolicy equivalent (rewrite them as a Rego or CUE policy)", out.Name, at.Name)
		}
		out.Attestations = append(out.Attestations, x)
	}
	return out, nil
}

// cipName makes an authority name from a Kyverno path
// ("...attestors[0].entries[1]" → "attestors-0-entries-1").
func cipName(n string, i int) string {
	if n == "" {
		return fmt.Sprintf("authority-%d", i)
	}
	if j := strings.Index(n, ".attestors["); j >= 0 {
		n = n[j+1:]
	}
	r := strings.NewReplacer("[", "-", "]", "", ".", "-", " ", "-")
	return r.Replace(n)
}

// ToKyverno writes p as a Kyverno ClusterPolicy (Policy when namespaced)
// with one verifyImages rule.
func ToKyverno(p *Policy, name string) (*KyvernoPolicy, []string, error) {
	var notes []string
	if p.ResultPolicy != nil {
		return nil, nil, fmt.Errorf("%s: spec.policy (a %s policy over the authorities' results) has no Kyverno equivalent", p.Name, p.ResultPolicy.Type)
	}
	k := &KyvernoPolicy{APIVersion: kyvernoAPI, Kind: "ClusterPolicy", Metadata: metav1.ObjectMeta{Name: name}}
	if p.Namespace != "" {
		k.Kind, k.Metadata.Namespace = "Policy", p.Namespace
	}
	k.Spec.ValidationFailureAction = "Enforce"
	if p.Mode == Warn {
		k.Spec.ValidationFailureAction = "Audit"
	}
	f := false
	k.Spec.Background = &f
	if p.FailOpen {
		k.Spec.FailurePolicy = "Ignore"
	}
	v := KyvernoVerify{SkipImageReferences: p.Skip, MutateDigest: &p.MutateDigest, VerifyDigest: &p.VerifyDigest}
	for _, g := range p.Images {
		if p.GlobStyle != KyvernoGlob && strings.Contains(strings.ReplaceAll(g, "**", ""), "*") {
			notes = append(notes, fmt.Sprintf("image pattern %q: Kyverno's * also crosses /, so the rule matches more repositories than the ClusterImagePolicy did", g))
		}
		if p.GlobStyle != KyvernoGlob {
			g = strings.ReplaceAll(g, "**", "*")
		}
		v.ImageReferences = append(v.ImageReferences, g)
	}
	for _, r := range p.Requirements {
		var atts []Attestation
		var set KyvernoAttestorSet
		for _, a := range r.Authorities {
			entries, err := toKyvernoEntries(a)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", p.Name, err)
			}
			set.Entries = append(set.Entries, entries...)
			atts = append(atts, a.Attestations...)
		}
		if n := r.Needed(); n != len(set.Entries) {
			set.Count = &n
		}
		if len(atts) == 0 {
			v.Attestors = append(v.Attestors, set)
			continue
		}
		seen := map[string]bool{}
		for _, at := range atts {
			if seen[at.Name] {
				continue
			}
			seen[at.Name] = true
			switch at.PolicyType {
			case "rego", "cue":
				return nil, nil, fmt.Errorf("%s: attestation %s: a %s policy has no Kyverno equivalent (rewrite it as conditions)", p.Name, at.Name, at.PolicyType)
			}
			v.Attestations = append(v.Attestations, KyvernoAttestation{Name: at.Name, PredicateType: at.PredicateType,
				Attestors: []KyvernoAttestorSet{set}, Conditions: at.Conditions})
		}
	}
	kinds := []string{"Pod"}
	if !coversAllWorkloads(p.Match) {
		kinds = nil
		for _, m := range p.Match {
			if len(m.Labels) > 0 {
				return nil, nil, fmt.Errorf("%s: label selectors per kind are not converted", p.Name)
			}
			kinds = append(kinds, m.Kind)
		}
	}
	k.Spec.Rules = []KyvernoRule{{Name: "verify-images", Match: &KyvernoMatch{Any: []KyvernoFilter{{Resources: &KyvernoResources{Kinds: kinds}}}}, VerifyImages: []KyvernoVerify{v}}}
	return k, notes, nil
}

func toKyvernoEntries(a Authority) ([]KyvernoAttestor, error) {
	var rekor *KyvernoRekor
	if a.IgnoreTlog || len(a.TlogKeys) > 0 {
		rekor = &KyvernoRekor{IgnoreTlog: a.IgnoreTlog}
		if len(a.TlogKeys) > 0 {
			rekor.RekorPubKey = a.TlogKeys[0]
		}
	}
	src := ""
	if len(a.Sources) > 0 {
		src = a.Sources[0]
	}
	if a.TrustRoot != "" {
		return nil, fmt.Errorf("authority %s: trust root %q has no Kyverno equivalent (give roots and keys inline)", a.Name, a.TrustRoot)
	}
	switch {
	case a.Static != nil:
		return nil, fmt.Errorf("authority %s: a static authority has no Kyverno verifyImages equivalent", a.Name)
	case a.Key != nil:
		k := &KyvernoKeys{PublicKeys: a.Key.PEM, SignatureAlgorithm: a.Key.HashAlgorithm, Rekor: rekor}
		if r := a.Key.SecretRef; r != nil {
			k.PublicKeys, k.Secret = "", &CIPSecretRef{Name: r.Name, Namespace: r.Namespace}
		}
		return []KyvernoAttestor{{Keys: k, Repository: src}}, nil
	default:
		var out []KyvernoAttestor
		for _, id := range a.Keyless.Identities {
			kl := &KyvernoKeyless{Subject: id.Subject, SubjectRegExp: id.SubjectRegExp, Issuer: id.Issuer, IssuerRegExp: id.IssuerRegExp,
				Roots: a.Keyless.CACert, Rekor: rekor}
			if a.Keyless.IgnoreSCT || len(a.Keyless.CTLogKeys) > 0 || a.Keyless.TSAChain != "" {
				kl.CTLog = &KyvernoCTLog{IgnoreSCT: a.Keyless.IgnoreSCT, TSACertChain: a.Keyless.TSAChain}
				if len(a.Keyless.CTLogKeys) > 0 {
					kl.CTLog.CTLogPubKey = a.Keyless.CTLogKeys[0]
				}
			}
			out = append(out, KyvernoAttestor{Keyless: kl, Repository: src})
		}
		if len(out) > 1 {
			return nil, fmt.Errorf("authority %s: %d identities in one authority (any of them) would become %d Kyverno entries that must all pass; split the authority", a.Name, len(out), len(out))
		}
		return out, nil
	}
}
