package imagepolicy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"hallmark.dev/hallmark/pkg/attest"
)

// ClusterImagePolicy is policy-controller's policy.sigstore.dev/v1beta1
// resource, field for field (unknown fields are refused when read).
type ClusterImagePolicy struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       CIPSpec           `json:"spec"`
	Status     json.RawMessage   `json:"status,omitempty"`
}

// CIPSpec is a ClusterImagePolicy's spec.
type CIPSpec struct {
	Images      []CIPImage     `json:"images"`
	Authorities []CIPAuthority `json:"authorities"`
	Policy      *CIPPolicy     `json:"policy,omitempty"`
	Mode        string         `json:"mode,omitempty"`
	Match       []CIPMatch     `json:"match,omitempty"`
}

type CIPImage struct {
	Glob string `json:"glob"`
}

type CIPAuthority struct {
	Name             string           `json:"name,omitempty"`
	Key              *CIPKey          `json:"key,omitempty"`
	Keyless          *CIPKeyless      `json:"keyless,omitempty"`
	Static           *CIPStatic       `json:"static,omitempty"`
	Sources          []CIPSource      `json:"source,omitempty"`
	CTLog            *CIPTlog         `json:"ctlog,omitempty"`
	Attestations     []CIPAttestation `json:"attestations,omitempty"`
	RFC3161Timestamp *CIPTimestamp    `json:"rfc3161timestamp,omitempty"`
	SignatureFormat  string           `json:"signatureFormat,omitempty"`
}

type CIPKey struct {
	Data          string        `json:"data,omitempty"`
	SecretRef     *CIPSecretRef `json:"secretRef,omitempty"`
	KMS           string        `json:"kms,omitempty"`
	HashAlgorithm string        `json:"hashAlgorithm,omitempty"`
}

type CIPSecretRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

type CIPKeyless struct {
	URL               string     `json:"url,omitempty"`
	Identities        []Identity `json:"identities,omitempty"`
	CACert            *CIPKey    `json:"ca-cert,omitempty"`
	TrustRootRef      string     `json:"trustRootRef,omitempty"`
	InsecureIgnoreSCT *bool      `json:"insecureIgnoreSCT,omitempty"`
}

type CIPStatic struct {
	Action  string `json:"action"`
	Message string `json:"message,omitempty"`
}

type CIPSource struct {
	OCI                  string        `json:"oci,omitempty"`
	SignaturePullSecrets []CIPLocalRef `json:"signaturePullSecrets,omitempty"`
	TagPrefix            *string       `json:"tagPrefix,omitempty"`
}

type CIPLocalRef struct {
	Name string `json:"name"`
}

type CIPTlog struct {
	URL          string `json:"url,omitempty"`
	TrustRootRef string `json:"trustRootRef,omitempty"`
}

type CIPTimestamp struct {
	TrustRootRef string `json:"trustRootRef,omitempty"`
}

type CIPAttestation struct {
	Name          string     `json:"name"`
	PredicateType string     `json:"predicateType"`
	Policy        *CIPPolicy `json:"policy,omitempty"`
}

type CIPPolicy struct {
	Type              string          `json:"type"`
	Data              string          `json:"data,omitempty"`
	Remote            json.RawMessage `json:"remote,omitempty"`
	ConfigMapRef      json.RawMessage `json:"configMapRef,omitempty"`
	FetchConfigFile   *bool           `json:"fetchConfigFile,omitempty"`
	IncludeSpec       *bool           `json:"includeSpec,omitempty"`
	IncludeObjectMeta *bool           `json:"includeObjectMeta,omitempty"`
	IncludeTypeMeta   *bool           `json:"includeTypeMeta,omitempty"`
}

type CIPMatch struct {
	Group    string                `json:"group,omitempty"`
	Version  string                `json:"version,omitempty"`
	Resource string                `json:"resource,omitempty"`
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// Hallmark's extensions to a ClusterImagePolicy are annotations, so the
// same resource still loads in policy-controller.
const (
	// AnnotationCount: how many distinct authorities must pass (N of M);
	// policy-controller's rule is one.
	AnnotationCount = "hallmark.dev/count"
	// AnnotationMutateDigest: "false" leaves tags as written.
	AnnotationMutateDigest = "hallmark.dev/mutate-digest"
	// AnnotationFailOpen: "true" admits, with a warning, an image whose
	// registry failed or whose verification did not finish in time.
	AnnotationFailOpen = "hallmark.dev/fail-open"
)

// resourceKinds maps match resources to workload kinds.
var resourceKinds = map[string]string{
	"pods": "Pod", "deployments": "Deployment", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet",
	"daemonsets": "DaemonSet", "jobs": "Job", "cronjobs": "CronJob", "replicationcontrollers": "ReplicationController",
}

// FromClusterImagePolicy compiles a ClusterImagePolicy.
func FromClusterImagePolicy(c *ClusterImagePolicy) (*Policy, error) {
	where := "ClusterImagePolicy/" + c.Metadata.Name
	if c.Metadata.Name == "" {
		return nil, fmt.Errorf("ClusterImagePolicy: metadata.name is required")
	}
	p := &Policy{Name: where, GlobStyle: SigstoreGlob, Mode: Enforce, MutateDigest: true}
	switch c.Spec.Mode {
	case "", "enforce":
	case "warn":
		p.Mode = Warn
	default:
		return nil, fmt.Errorf("%s: spec.mode %q; want enforce or warn", where, c.Spec.Mode)
	}
	if pol := c.Spec.Policy; pol != nil {
		rp, err := resultPolicy(pol, where+": spec.policy")
		if err != nil {
			return nil, err
		}
		p.ResultPolicy = rp
	}
	for i, im := range c.Spec.Images {
		if im.Glob == "" {
			return nil, fmt.Errorf("%s: spec.images[%d].glob is required", where, i)
		}
		p.Images = append(p.Images, im.Glob)
	}
	for i, m := range c.Spec.Match {
		kind, ok := resourceKinds[m.Resource]
		if !ok {
			return nil, fmt.Errorf("%s: spec.match[%d].resource %q; want one of pods, deployments, replicasets, statefulsets, daemonsets, jobs, cronjobs", where, i, m.Resource)
		}
		mm := Match{Kind: kind}
		if m.Selector != nil {
			if len(m.Selector.MatchExpressions) > 0 {
				return nil, fmt.Errorf("%s: spec.match[%d].selector.matchExpressions is not supported (use matchLabels)", where, i)
			}
			mm.Labels = m.Selector.MatchLabels
		}
		p.Match = append(p.Match, mm)
	}
	ann := c.Metadata.Annotations
	var req Requirement
	if v, ok := ann[AnnotationCount]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: annotation %s=%q; want a number ≥ 1", where, AnnotationCount, v)
		}
		req.Count = n
	} else {
		req.Count = 1 // policy-controller: any one authority
	}
	for _, flag := range []struct {
		key string
		to  *bool
	}{{AnnotationMutateDigest, &p.MutateDigest}, {AnnotationFailOpen, &p.FailOpen}} {
		if v, ok := ann[flag.key]; ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s: annotation %s=%q; want true or false", where, flag.key, v)
			}
			*flag.to = b
		}
	}
	for i, a := range c.Spec.Authorities {
		aw := fmt.Sprintf("%s: spec.authorities[%d]", where, i)
		auth, err := cipAuthority(a, aw)
		if err != nil {
			return nil, err
		}
		if auth.Name == "" {
			auth.Name = fmt.Sprintf("authority-%d", i)
		}
		req.Authorities = append(req.Authorities, auth)
	}
	if req.Count > len(req.Authorities) && len(req.Authorities) > 0 {
		return nil, fmt.Errorf("%s: annotation %s=%d but only %d authorities", where, AnnotationCount, req.Count, len(req.Authorities))
	}
	p.Requirements = []Requirement{req}
	return p, p.Compile()
}

func resultPolicy(pol *CIPPolicy, where string) (*ResultPolicy, error) {
	t := strings.ToLower(pol.Type)
	if t != "rego" && t != "cue" {
		return nil, fmt.Errorf("%s.type %q; want rego or cue", where, pol.Type)
	}
	if len(pol.Remote) > 0 || len(pol.ConfigMapRef) > 0 {
		return nil, fmt.Errorf("%s: only inline data is supported (remote and configMapRef are fetched by policy-controller; Hallmark fetches nothing at admission)", where)
	}
	if pol.FetchConfigFile != nil && *pol.FetchConfigFile {
		return nil, fmt.Errorf("%s.fetchConfigFile: reading the image's config file is not supported", where)
	}
	if pol.Data == "" {
		return nil, fmt.Errorf("%s.data is empty", where)
	}
	b := func(p *bool) bool { return p != nil && *p }
	return &ResultPolicy{Type: t, Data: pol.Data, IncludeSpec: b(pol.IncludeSpec), IncludeObjectMeta: b(pol.IncludeObjectMeta), IncludeTypeMeta: b(pol.IncludeTypeMeta)}, nil
}

func cipAuthority(a CIPAuthority, aw string) (Authority, error) {
	out := Authority{Name: a.Name, SignatureFormat: a.SignatureFormat}
	n := 0
	if a.Key != nil {
		n++
		if a.Key.KMS != "" {
			return out, fmt.Errorf("%s.key.kms: KMS keys are not supported (give the public key as data or a secretRef)", aw)
		}
		if (a.Key.Data == "") == (a.Key.SecretRef == nil) {
			return out, fmt.Errorf("%s.key: give exactly one of data or secretRef", aw)
		}
		out.Key = &Key{PEM: a.Key.Data, HashAlgorithm: a.Key.HashAlgorithm}
		if r := a.Key.SecretRef; r != nil {
			out.Key.SecretRef = &SecretRef{Name: r.Name, Namespace: r.Namespace}
		}
	}
	if a.Keyless != nil {
		n++
		k := &Keyless{Identities: a.Keyless.Identities}
		if len(k.Identities) == 0 {
			return out, fmt.Errorf("%s.keyless.identities: at least one identity (issuer and subject, or their regexps) is required", aw)
		}
		for j, id := range k.Identities {
			if (id.Issuer == "" && id.IssuerRegExp == "") || (id.Subject == "" && id.SubjectRegExp == "") {
				return out, fmt.Errorf("%s.keyless.identities[%d]: needs issuer or issuerRegExp, and subject or subjectRegExp", aw, j)
			}
		}
		if c := a.Keyless.CACert; c != nil {
			if c.SecretRef != nil || c.KMS != "" || c.Data == "" {
				return out, fmt.Errorf("%s.keyless.ca-cert: give the chain as data (PEM)", aw)
			}
			k.CACert = c.Data
		}
		if a.Keyless.InsecureIgnoreSCT != nil {
			k.IgnoreSCT = *a.Keyless.InsecureIgnoreSCT
		}
		out.TrustRoot = a.Keyless.TrustRootRef
		out.Keyless = k
	}
	if a.Static != nil {
		n++
		switch a.Static.Action {
		case "pass", "fail":
		default:
			return out, fmt.Errorf("%s.static.action %q; want pass or fail", aw, a.Static.Action)
		}
		out.Static = &Static{Pass: a.Static.Action == "pass", Message: a.Static.Message}
	}
	if n != 1 {
		return out, fmt.Errorf("%s: give exactly one of key, keyless or static (got %d)", aw, n)
	}
	for j, s := range a.Sources {
		if s.OCI == "" {
			return out, fmt.Errorf("%s.source[%d].oci is required", aw, j)
		}
		if s.TagPrefix != nil && *s.TagPrefix != "" {
			return out, fmt.Errorf("%s.source[%d].tagPrefix is not supported", aw, j)
		}
		out.Sources = append(out.Sources, s.OCI)
	}
	// policy-controller: a key authority without ctlog (its Rekor) is not
	// checked against a transparency log; keyless always is, unless RFC
	// 3161 timestamps date the signature instead.
	out.IgnoreTlog = a.Key != nil && a.CTLog == nil
	if a.RFC3161Timestamp != nil {
		out.IgnoreTlog = true
	}
	if a.Static != nil && (len(a.Attestations) > 0 || len(a.Sources) > 0 || a.CTLog != nil || a.RFC3161Timestamp != nil) {
		return out, fmt.Errorf("%s: a static authority takes no attestations, source, ctlog or rfc3161timestamp", aw)
	}
	if len(a.Sources) > 1 {
		return out, fmt.Errorf("%s.source: only a single source is supported (got %d)", aw, len(a.Sources))
	}
	if t := a.CTLog; t != nil {
		if t.TrustRootRef != "" {
			if out.TrustRoot != "" && out.TrustRoot != t.TrustRootRef {
				return out, fmt.Errorf("%s: ctlog.trustRootRef %q and keyless.trustRootRef %q differ; one trust root per authority", aw, t.TrustRootRef, out.TrustRoot)
			}
			out.TrustRoot = t.TrustRootRef
		}
	}
	if t := a.RFC3161Timestamp; t != nil {
		if out.Keyless != nil {
			out.Keyless.UseSignedTimestamps = true
		}
		if t.TrustRootRef != "" {
			if out.TrustRoot != "" && out.TrustRoot != t.TrustRootRef {
				return out, fmt.Errorf("%s: rfc3161timestamp.trustRootRef %q differs from %q; one trust root per authority", aw, t.TrustRootRef, out.TrustRoot)
			}
			out.TrustRoot = t.TrustRootRef
		}
	}
	// Without signatureFormat both layouts are read (policy-controller reads
	// only the legacy one unless told "bundle", which misses what cosign v3
	// signs by default).
	switch a.SignatureFormat {
	case "", "bundle", "legacy":
	default:
		return out, fmt.Errorf("%s.signatureFormat %q; want bundle or legacy", aw, a.SignatureFormat)
	}
	for j, at := range a.Attestations {
		atw := fmt.Sprintf("%s.attestations[%d]", aw, j)
		if at.Name == "" {
			return out, fmt.Errorf("%s.name is required", atw)
		}
		if at.PredicateType == "" {
			return out, fmt.Errorf("%s.predicateType is required", atw)
		}
		// A shorthand maps as cosign's; any other string is the type itself.
		uri, err := attest.PredicateURI(at.PredicateType)
		if err != nil {
			uri = at.PredicateType
		}
		x := Attestation{Name: at.Name, PredicateType: uri}
		if pol := at.Policy; pol != nil {
			switch strings.ToLower(pol.Type) {
			case "rego", "cue":
			default:
				return out, fmt.Errorf("%s.policy.type %q; want rego or cue", atw, pol.Type)
			}
			if len(pol.Remote) > 0 || len(pol.ConfigMapRef) > 0 {
				return out, fmt.Errorf("%s.policy: only inline data is supported (remote and configMapRef are fetched by policy-controller; Hallmark fetches nothing at admission)", atw)
			}
			if pol.Data == "" {
				return out, fmt.Errorf("%s.policy.data is empty", atw)
			}
			if pol.FetchConfigFile != nil || pol.IncludeSpec != nil || pol.IncludeObjectMeta != nil || pol.IncludeTypeMeta != nil {
				return out, fmt.Errorf("%s.policy: fetchConfigFile and include* are only for spec.policy", atw)
			}
			x.PolicyType, x.Policy = strings.ToLower(pol.Type), pol.Data
		}
		out.Attestations = append(out.Attestations, x)
	}
	return out, nil
}
