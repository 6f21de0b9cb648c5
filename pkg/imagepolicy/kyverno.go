package imagepolicy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KyvernoPolicy is kyverno.io/v1 ClusterPolicy or Policy, as far as image
// verification goes: rules without verifyImages are kept but not read.
type KyvernoPolicy struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       KyvernoSpec       `json:"spec"`
	Status     json.RawMessage   `json:"status,omitempty"`
}

type KyvernoSpec struct {
	ValidationFailureAction          string            `json:"validationFailureAction,omitempty"`
	WebhookTimeoutSeconds            *int              `json:"webhookTimeoutSeconds,omitempty"`
	FailurePolicy                    string            `json:"failurePolicy,omitempty"`
	Background                       *bool             `json:"background,omitempty"`
	Admission                        *bool             `json:"admission,omitempty"`
	EmitWarning                      *bool             `json:"emitWarning,omitempty"`
	UseServerSideApply               *bool             `json:"useServerSideApply,omitempty"`
	WebhookConfiguration             *KyvernoWebhook   `json:"webhookConfiguration,omitempty"`
	ValidationFailureActionOverrides []KyvernoOverride `json:"validationFailureActionOverrides,omitempty"`
	ApplyRules                       string            `json:"applyRules,omitempty"`
	GenerateExisting                 *bool             `json:"generateExisting,omitempty"`
	MutateExistingOnPolicyUpdate     *bool             `json:"mutateExistingOnPolicyUpdate,omitempty"`
	SchemaValidation                 *bool             `json:"schemaValidation,omitempty"`
	Rules                            []KyvernoRule     `json:"rules"`
}

// KyvernoOverride is one of spec.validationFailureActionOverrides.
type KyvernoOverride struct {
	Action            string                `json:"action"`
	Namespaces        []string              `json:"namespaces,omitempty"`
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// KyvernoWebhook is spec.webhookConfiguration.
type KyvernoWebhook struct {
	FailurePolicy   string          `json:"failurePolicy,omitempty"`
	TimeoutSeconds  *int            `json:"timeoutSeconds,omitempty"`
	MatchConditions json.RawMessage `json:"matchConditions,omitempty"`
}

type KyvernoRule struct {
	Name         string          `json:"name"`
	Match        *KyvernoMatch   `json:"match,omitempty"`
	Exclude      *KyvernoMatch   `json:"exclude,omitempty"`
	VerifyImages []KyvernoVerify `json:"verifyImages,omitempty"`
	// Other rule types: kept, not read.
	Validate               json.RawMessage `json:"validate,omitempty"`
	Mutate                 json.RawMessage `json:"mutate,omitempty"`
	Generate               json.RawMessage `json:"generate,omitempty"`
	Context                json.RawMessage `json:"context,omitempty"`
	Preconditions          json.RawMessage `json:"preconditions,omitempty"`
	SkipBackgroundRequests *bool           `json:"skipBackgroundRequests,omitempty"`
	CELPreconditions       json.RawMessage `json:"celPreconditions,omitempty"`
	// Where images are in custom resources: Hallmark judges workloads.
	ImageExtractors  json.RawMessage `json:"imageExtractors,omitempty"`
	ReportProperties json.RawMessage `json:"reportProperties,omitempty"`
}

// KyvernoMatch is a rule's match or exclude block.
type KyvernoMatch struct {
	Any       []KyvernoFilter   `json:"any,omitempty"`
	All       []KyvernoFilter   `json:"all,omitempty"`
	Resources *KyvernoResources `json:"resources,omitempty"`
}

type KyvernoFilter struct {
	Resources    *KyvernoResources `json:"resources,omitempty"`
	Subjects     json.RawMessage   `json:"subjects,omitempty"`
	Roles        json.RawMessage   `json:"roles,omitempty"`
	ClusterRoles json.RawMessage   `json:"clusterRoles,omitempty"`
}

type KyvernoResources struct {
	Kinds             []string              `json:"kinds,omitempty"`
	Names             []string              `json:"names,omitempty"`
	Name              string                `json:"name,omitempty"`
	Namespaces        []string              `json:"namespaces,omitempty"`
	Operations        []string              `json:"operations,omitempty"`
	Selector          *metav1.LabelSelector `json:"selector,omitempty"`
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	Annotations       map[string]string     `json:"annotations,omitempty"`
}

type KyvernoVerify struct {
	Type                     string               `json:"type,omitempty"`
	ImageReferences          []string             `json:"imageReferences,omitempty"`
	SkipImageReferences      []string             `json:"skipImageReferences,omitempty"`
	Attestors                []KyvernoAttestorSet `json:"attestors,omitempty"`
	Attestations             []KyvernoAttestation `json:"attestations,omitempty"`
	Repository               string               `json:"repository,omitempty"`
	MutateDigest             *bool                `json:"mutateDigest,omitempty"`
	VerifyDigest             *bool                `json:"verifyDigest,omitempty"`
	Required                 *bool                `json:"required,omitempty"`
	UseCache                 *bool                `json:"useCache,omitempty"`
	FailureAction            string               `json:"failureAction,omitempty"`
	ImageRegistryCredentials json.RawMessage      `json:"imageRegistryCredentials,omitempty"`
	Validate                 json.RawMessage      `json:"validate,omitempty"`
	// Deprecated single-image fields.
	Image       string `json:"image,omitempty"`
	Key         string `json:"key,omitempty"`
	CosignOCI11 bool   `json:"cosignOCI11,omitempty"` // both layouts are always read
}

type KyvernoAttestorSet struct {
	Count   *int              `json:"count,omitempty"`
	Entries []KyvernoAttestor `json:"entries,omitempty"`
}

type KyvernoAttestor struct {
	Keys               *KyvernoKeys      `json:"keys,omitempty"`
	Certificates       *KyvernoCerts     `json:"certificates,omitempty"`
	Keyless            *KyvernoKeyless   `json:"keyless,omitempty"`
	Attestor           json.RawMessage   `json:"attestor,omitempty"`
	Annotations        map[string]string `json:"annotations,omitempty"`
	Repository         string            `json:"repository,omitempty"`
	SignatureAlgorithm string            `json:"signatureAlgorithm,omitempty"` // Kyverno's CRD defaults it (sha256)
}

type KyvernoKeys struct {
	PublicKeys         string        `json:"publicKeys,omitempty"`
	SignatureAlgorithm string        `json:"signatureAlgorithm,omitempty"`
	KMS                string        `json:"kms,omitempty"`
	Secret             *CIPSecretRef `json:"secret,omitempty"`
	Rekor              *KyvernoRekor `json:"rekor,omitempty"`
	CTLog              *KyvernoCTLog `json:"ctlog,omitempty"`
}

type KyvernoCerts struct {
	Certificate      string        `json:"cert,omitempty"`
	CertificateChain string        `json:"certChain,omitempty"`
	Rekor            *KyvernoRekor `json:"rekor,omitempty"`
	CTLog            *KyvernoCTLog `json:"ctlog,omitempty"`
}

type KyvernoKeyless struct {
	Subject              string            `json:"subject,omitempty"`
	SubjectRegExp        string            `json:"subjectRegExp,omitempty"`
	Issuer               string            `json:"issuer,omitempty"`
	IssuerRegExp         string            `json:"issuerRegExp,omitempty"`
	Roots                string            `json:"roots,omitempty"`
	AdditionalExtensions map[string]string `json:"additionalExtensions,omitempty"`
	Rekor                *KyvernoRekor     `json:"rekor,omitempty"`
	CTLog                *KyvernoCTLog     `json:"ctlog,omitempty"`
}

type KyvernoRekor struct {
	URL         string `json:"url,omitempty"`
	RekorPubKey string `json:"pubkey,omitempty"`
	IgnoreTlog  bool   `json:"ignoreTlog,omitempty"`
}

type KyvernoCTLog struct {
	URL          string `json:"url,omitempty"`
	CTLogPubKey  string `json:"pubkey,omitempty"`
	IgnoreSCT    bool   `json:"ignoreSCT,omitempty"`
	TSACertChain string `json:"tsaCertChain,omitempty"`
}

type KyvernoAttestation struct {
	Type          string               `json:"type,omitempty"`
	PredicateType string               `json:"predicateType,omitempty"`
	Name          string               `json:"name,omitempty"`
	Attestors     []KyvernoAttestorSet `json:"attestors,omitempty"`
	Conditions    []ConditionBlock     `json:"conditions,omitempty"`
}

// workloadKinds are what Kyverno's auto-generation extends a Pod rule to.
var workloadKinds = []string{"Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController"}

// FromKyverno compiles each verifyImages entry of each rule into a Policy.
func FromKyverno(k *KyvernoPolicy) ([]*Policy, error) {
	if k.Metadata.Name == "" {
		return nil, fmt.Errorf("%s: metadata.name is required", k.Kind)
	}
	base := k.Kind + "/" + k.Metadata.Name
	if k.Kind == "Policy" {
		ns := k.Metadata.Namespace
		if ns == "" {
			ns = "default"
		}
		base = "Policy/" + ns + "/" + k.Metadata.Name
	}
	mode := Warn
	switch strings.ToLower(k.Spec.ValidationFailureAction) {
	case "enforce":
		mode = Enforce
	case "", "audit": // Kyverno's default is Audit
	default:
		return nil, fmt.Errorf("%s: spec.validationFailureAction %q; want Enforce or Audit", base, k.Spec.ValidationFailureAction)
	}
	failOpen := false
	fp := k.Spec.FailurePolicy
	if w := k.Spec.WebhookConfiguration; w != nil && w.FailurePolicy != "" {
		fp = w.FailurePolicy
	}
	switch fp {
	case "", "Fail":
	case "Ignore":
		failOpen = true
	default:
		return nil, fmt.Errorf("%s: failurePolicy %q; want Fail or Ignore", base, fp)
	}
	var overrides []ModeOverride
	for i, o := range k.Spec.ValidationFailureActionOverrides {
		ow := fmt.Sprintf("%s: spec.validationFailureActionOverrides[%d]", base, i)
		if o.NamespaceSelector != nil {
			return nil, fmt.Errorf("%s.namespaceSelector is not supported (name the namespaces)", ow)
		}
		m, err := kyvernoAction(o.Action, ow+".action")
		if err != nil {
			return nil, err
		}
		overrides = append(overrides, ModeOverride{Namespaces: o.Namespaces, Mode: m})
	}
	if k.Spec.Admission != nil && !*k.Spec.Admission {
		return nil, nil // background scans only: nothing for admission
	}
	var out []*Policy
	ruleNames := map[string]bool{}
	for ri, rule := range k.Spec.Rules {
		if ruleNames[rule.Name] && rule.Name != "" {
			return nil, fmt.Errorf("%s: spec.rules[%d]: rule name %q is used twice", base, ri, rule.Name)
		}
		ruleNames[rule.Name] = true
		if len(rule.VerifyImages) == 0 {
			continue
		}
		rw := fmt.Sprintf("%s: spec.rules[%d] (%s)", base, ri, rule.Name)
		if rule.Name == "" {
			return nil, fmt.Errorf("%s: spec.rules[%d].name is required", base, ri)
		}
		for _, f := range []struct {
			name string
			set  bool
		}{{"context", len(rule.Context) > 0}, {"preconditions", len(rule.Preconditions) > 0}, {"celPreconditions", len(rule.CELPreconditions) > 0}} {
			if f.set {
				return nil, fmt.Errorf("%s.%s: not supported with verifyImages (Hallmark evaluates no Kyverno variables outside an attestation's predicate); a policy it cannot read fully is refused rather than enforced in part", rw, f.name)
			}
		}
		match, namespaces, err := kyvernoMatch(rule.Match, rw+".match")
		if err != nil {
			return nil, err
		}
		excludeNS, err := kyvernoExclude(rule.Exclude, rw+".exclude")
		if err != nil {
			return nil, err
		}
		for vi, v := range rule.VerifyImages {
			vw := fmt.Sprintf("%s.verifyImages[%d]", rw, vi)
			name := base + "/" + rule.Name
			if len(rule.VerifyImages) > 1 {
				name += fmt.Sprintf("/%d", vi)
			}
			p := &Policy{Name: name, GlobStyle: KyvernoGlob, Mode: mode, FailOpen: failOpen, Match: match,
				VerifyDigest: boolOr(v.VerifyDigest, true), Namespaces: namespaces, ExcludeNamespaces: excludeNS, ModeOverrides: overrides}
			if len(v.Validate) > 0 {
				return nil, fmt.Errorf("%s.validate: deny conditions over the verified images are not supported; a policy it cannot read fully is refused rather than enforced in part", vw)
			}
			if len(v.ImageRegistryCredentials) > 0 {
				return nil, fmt.Errorf("%s.imageRegistryCredentials: not supported (Hallmark reads registries with the pod's pull secrets and its service account's)", vw)
			}
			if k.Kind == "Policy" {
				p.Namespace = k.Metadata.Namespace
				if p.Namespace == "" {
					p.Namespace = "default"
				}
			}
			if v.FailureAction != "" {
				if p.Mode, err = kyvernoAction(v.FailureAction, vw+".failureAction"); err != nil {
					return nil, err
				}
			}
			// Kyverno refuses mutateDigest in Audit; its default (true) is
			// taken as false there, as a warn-mode policy must not change
			// what runs.
			if p.Mode == Warn {
				if boolOr(v.MutateDigest, false) {
					return nil, fmt.Errorf("%s.mutateDigest must be false when the failure action is Audit", vw)
				}
			} else {
				p.MutateDigest = boolOr(v.MutateDigest, true)
			}
			if v.Type != "" && v.Type != "Cosign" && v.Type != "SigstoreBundle" {
				return nil, fmt.Errorf("%s.type %q: only Cosign and SigstoreBundle signatures are supported", vw, v.Type)
			}
			if v.Image != "" || v.Key != "" {
				return nil, fmt.Errorf("%s: the deprecated image/key fields are not supported; use imageReferences and attestors", vw)
			}
			p.Images, p.Skip = v.ImageReferences, v.SkipImageReferences
			if len(p.Images) == 0 {
				return nil, fmt.Errorf("%s.imageReferences: at least one is required", vw)
			}
			for si, set := range v.Attestors {
				req, err := kyvernoAttestors(set, fmt.Sprintf("%s.attestors[%d]", vw, si), v.Repository, nil)
				if err != nil {
					return nil, err
				}
				p.Requirements = append(p.Requirements, req)
			}
			for ai, at := range v.Attestations {
				aw := fmt.Sprintf("%s.attestations[%d]", vw, ai)
				pt := at.PredicateType
				if pt == "" {
					pt = at.Type
				}
				if pt == "" {
					return nil, fmt.Errorf("%s.predicateType is required", aw)
				}
				uri := pt // Kyverno compares the type exactly: no shorthands
				x := Attestation{Name: at.Name, PredicateType: uri, Conditions: at.Conditions, RequireAll: true}
				if x.Name == "" {
					x.Name = fmt.Sprintf("attestations[%d]", ai)
				}
				if len(at.Conditions) > 0 {
					x.PolicyType = "conditions"
				}
				sets := at.Attestors
				if len(sets) == 0 {
					sets = v.Attestors // Kyverno: the image's attestors sign its attestations too
				}
				if len(sets) == 0 {
					return nil, fmt.Errorf("%s: no attestors to verify it with", aw)
				}
				for si, set := range sets {
					req, err := kyvernoAttestors(set, fmt.Sprintf("%s.attestors[%d]", aw, si), v.Repository, &x)
					if err != nil {
						return nil, err
					}
					p.Requirements = append(p.Requirements, req)
				}
			}
			if len(p.Requirements) == 0 {
				return nil, fmt.Errorf("%s: no attestors and no attestations: nothing to verify", vw)
			}
			if err := p.Compile(); err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// kyvernoAction reads Enforce or Audit (either case).
func kyvernoAction(a, where string) (Mode, error) {
	switch strings.ToLower(a) {
	case "enforce":
		return Enforce, nil
	case "audit":
		return Warn, nil
	}
	return "", fmt.Errorf("%s %q; want Enforce or Audit", where, a)
}

// kyvernoMatch reads the kinds (and labels) and namespaces a rule matches;
// a rule on Pod also covers the workloads that make pods, as Kyverno's
// auto-generation does (not when it selects by labels, which Kyverno does
// not carry over). Criteria Hallmark cannot judge are refused by name.
func kyvernoMatch(m *KyvernoMatch, where string) (out []Match, namespaces []string, err error) {
	if m == nil {
		return nil, nil, nil
	}
	filters, err := kyvernoFilters(m, where)
	if err != nil {
		return nil, nil, err
	}
	allNS := false
	for _, r := range filters {
		if len(r.Namespaces) == 0 {
			allNS = true
		}
		namespaces = append(namespaces, r.Namespaces...)
		var labels map[string]string
		if r.Selector != nil {
			if len(r.Selector.MatchExpressions) > 0 {
				return nil, nil, fmt.Errorf("%s: selector.matchExpressions is not supported (use matchLabels)", where)
			}
			labels = r.Selector.MatchLabels
		}
		for _, k := range r.Kinds {
			k = k[strings.LastIndex(k, "/")+1:] // "apps/v1/Deployment" → Deployment
			if k == "Pod" && labels == nil {
				for _, w := range workloadKinds {
					out = append(out, Match{Kind: w})
				}
				continue
			}
			out = append(out, Match{Kind: k, Labels: labels})
		}
	}
	if allNS {
		namespaces = nil
	}
	return out, namespaces, nil
}

// kyvernoExclude reads the namespaces a rule's exclude block names; any
// other exclusion criterion is refused.
func kyvernoExclude(m *KyvernoMatch, where string) ([]string, error) {
	if m == nil {
		return nil, nil
	}
	filters, err := kyvernoFilters(m, where)
	if err != nil {
		return nil, err
	}
	var ns []string
	for _, r := range filters {
		if len(r.Kinds) > 0 || r.Selector != nil || len(r.Namespaces) == 0 {
			return nil, fmt.Errorf("%s: only exclusions by namespace are supported", where)
		}
		ns = append(ns, r.Namespaces...)
	}
	return ns, nil
}

// kyvernoFilters are the resource filters of a match or exclude block; a
// filter on anything but kinds, namespaces and labels is refused.
func kyvernoFilters(m *KyvernoMatch, where string) ([]*KyvernoResources, error) {
	var rs []*KyvernoResources
	if m.Resources != nil {
		rs = append(rs, m.Resources)
	}
	if len(m.All) > 1 {
		return nil, fmt.Errorf("%s.all: several filters that must all hold are not supported (use any, or one filter)", where)
	}
	for i, f := range append(append([]KyvernoFilter(nil), m.Any...), m.All...) {
		if len(f.Subjects) > 0 || len(f.Roles) > 0 || len(f.ClusterRoles) > 0 {
			return nil, fmt.Errorf("%s: filter %d: subjects, roles and clusterRoles are not supported", where, i)
		}
		if f.Resources != nil {
			rs = append(rs, f.Resources)
		}
	}
	for _, r := range rs {
		if len(r.Names) > 0 || r.Name != "" || r.NamespaceSelector != nil || len(r.Operations) > 0 || len(r.Annotations) > 0 {
			return nil, fmt.Errorf("%s: resources.names, name, namespaceSelector, operations and annotations are not supported (kinds, namespaces and selector.matchLabels are)", where)
		}
	}
	return rs, nil
}

// kyvernoAttestors turns an attestor set into a requirement: count entries
// must pass (every entry when count is absent).
func kyvernoAttestors(set KyvernoAttestorSet, where, repository string, att *Attestation) (Requirement, error) {
	var req Requirement
	if len(set.Entries) == 0 {
		return req, fmt.Errorf("%s.entries: at least one is required", where)
	}
	if set.Count != nil {
		if *set.Count < 1 || *set.Count > len(set.Entries) {
			return req, fmt.Errorf("%s.count %d with %d entries: want 1..%d", where, *set.Count, len(set.Entries), len(set.Entries))
		}
		req.Count = *set.Count
	}
	for ei, e := range set.Entries {
		ew := fmt.Sprintf("%s.entries[%d]", where, ei)
		auths, err := kyvernoEntry(e, ew)
		if err != nil {
			return req, err
		}
		for i := range auths {
			repo := e.Repository
			if repo == "" {
				repo = repository
			}
			if repo != "" {
				auths[i].Sources = []string{repo}
			}
			if att != nil {
				auths[i].Attestations = []Attestation{*att}
			}
		}
		req.Authorities = append(req.Authorities, auths...)
	}
	if set.Count == nil {
		req.Count = 0 // every entry
	}
	return req, nil
}

// kyvernoEntry is one attestor entry; publicKeys holding several keys is
// one entry per key, as Kyverno expands them before counting.
func kyvernoEntry(e KyvernoAttestor, ew string) ([]Authority, error) {
	n := 0
	for _, set := range []bool{e.Keys != nil, e.Keyless != nil, e.Certificates != nil, len(e.Attestor) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%s: give exactly one of keys, keyless, certificates or attestor (got %d)", ew, n)
	}
	if len(e.Annotations) > 0 {
		return nil, fmt.Errorf("%s.annotations: signed annotations are not supported in admission policies yet", ew)
	}
	switch {
	case len(e.Attestor) > 0:
		return nil, fmt.Errorf("%s.attestor: nested attestor sets are not supported", ew)
	case e.Certificates != nil:
		return nil, fmt.Errorf("%s.certificates: verification with a given certificate is not supported; use keys (its public key) or keyless", ew)
	case e.Keys != nil:
		k := e.Keys
		if k.KMS != "" {
			return nil, fmt.Errorf("%s.keys.kms: KMS keys are not supported", ew)
		}
		a := Authority{Name: ew}
		applyRekor(&a, k.Rekor)
		if k.Secret != nil {
			if k.PublicKeys != "" {
				return nil, fmt.Errorf("%s.keys: give publicKeys or secret, not both", ew)
			}
			a.Key = &Key{SecretRef: &SecretRef{Name: k.Secret.Name, Namespace: k.Secret.Namespace}, HashAlgorithm: k.SignatureAlgorithm}
			return []Authority{a}, nil
		}
		if strings.HasPrefix(k.PublicKeys, "k8s://") {
			ns, name, ok := strings.Cut(strings.TrimPrefix(k.PublicKeys, "k8s://"), "/")
			if !ok || ns == "" || name == "" {
				return nil, fmt.Errorf("%s.keys.publicKeys %q; want k8s://NAMESPACE/SECRET", ew, k.PublicKeys)
			}
			a.Key = &Key{SecretRef: &SecretRef{Name: name, Namespace: ns}, HashAlgorithm: k.SignatureAlgorithm}
			return []Authority{a}, nil
		}
		if strings.Contains(k.PublicKeys, "{{") {
			return nil, fmt.Errorf("%s.keys.publicKeys %q: Kyverno variables (context, ConfigMaps) are not supported; give the key inline or as k8s://NAMESPACE/SECRET", ew, k.PublicKeys)
		}
		blocks := splitPEM(k.PublicKeys)
		if len(blocks) == 0 {
			return nil, fmt.Errorf("%s.keys.publicKeys: no PEM public key (want -----BEGIN PUBLIC KEY-----, or k8s://NS/SECRET)", ew)
		}
		var out []Authority
		for i, b := range blocks {
			x := a
			if len(blocks) > 1 {
				x.Name = fmt.Sprintf("%s.keys[%d]", ew, i)
			}
			x.Key = &Key{PEM: b, HashAlgorithm: k.SignatureAlgorithm}
			out = append(out, x)
		}
		return out, nil
	default:
		k := e.Keyless
		if k.Rekor == nil && k.Roots == "" {
			return nil, fmt.Errorf("%s.keyless: either rekor (url) or roots is required", ew)
		}
		if k.Rekor != nil && k.Rekor.URL == "" {
			return nil, fmt.Errorf("%s.keyless.rekor.url is required", ew)
		}
		id := Identity{Issuer: k.Issuer, IssuerRegExp: k.IssuerRegExp, Subject: k.Subject, SubjectRegExp: k.SubjectRegExp}
		// Kyverno's subject and issuer take * and ? wildcards.
		if strings.ContainsAny(id.Subject, "*?") && id.SubjectRegExp == "" {
			id.Subject, id.SubjectRegExp = "", wildcardRegexp(id.Subject)
		}
		if strings.ContainsAny(id.Issuer, "*?") && id.IssuerRegExp == "" {
			id.Issuer, id.IssuerRegExp = "", wildcardRegexp(id.Issuer)
		}
		a := Authority{Name: ew, Keyless: &Keyless{Identities: []Identity{id}, CACert: k.Roots}}
		if len(k.AdditionalExtensions) > 0 {
			return nil, fmt.Errorf("%s.keyless.additionalExtensions: not supported yet", ew)
		}
		if (id.Issuer == "" && id.IssuerRegExp == "") || (id.Subject == "" && id.SubjectRegExp == "") {
			return nil, fmt.Errorf("%s.keyless: needs issuer (or issuerRegExp) and subject (or subjectRegExp)", ew)
		}
		applyRekor(&a, k.Rekor)
		if c := k.CTLog; c != nil {
			a.Keyless.IgnoreSCT = c.IgnoreSCT
			if c.CTLogPubKey != "" {
				a.Keyless.CTLogKeys = []string{c.CTLogPubKey}
			}
			if c.TSACertChain != "" {
				a.Keyless.TSAChain = c.TSACertChain
			}
		}
		return []Authority{a}, nil
	}
}

func applyRekor(a *Authority, r *KyvernoRekor) {
	if r == nil {
		return
	}
	a.IgnoreTlog = r.IgnoreTlog
	if r.RekorPubKey != "" {
		a.TlogKeys = []string{r.RekorPubKey}
	}
}

// splitPEM returns each PEM block of s as text.
func splitPEM(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "-----BEGIN ")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i:], "-----END ")
		if j < 0 {
			return out
		}
		k := strings.Index(s[i+j+9:], "-----")
		if k < 0 {
			return out
		}
		end := i + j + 9 + k + 5
		out = append(out, s[i:end]+"\n")
		s = s[end:]
	}
}

// wildcardRegexp is Kyverno's wildcard (* anything, ? one character) as
// an anchored regular expression.
func wildcardRegexp(w string) string {
	q := regexp.QuoteMeta(w)
	q = strings.ReplaceAll(q, `\*`, ".*")
	q = strings.ReplaceAll(q, `\?`, ".")
	return "^" + q + "$"
}
