package imagepolicy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Mode is what a failed policy does to the request.
type Mode string

const (
	// Enforce denies the request.
	Enforce Mode = "enforce"
	// Warn allows it with a warning.
	Warn Mode = "warn"
)

// Policy is one compiled image policy: the images it applies to and what
// each must satisfy.
type Policy struct {
	// Name says where it came from: "ClusterImagePolicy/NAME",
	// "ClusterPolicy/NAME/RULE[/i]" or "Policy/NS/NAME/RULE[/i]".
	Name string `json:"name"`
	// Source is the file (or "cluster") it was read from.
	Source string `json:"source,omitempty"`
	// Namespace limits a namespaced policy (Kyverno Policy) to one
	// namespace; "" applies everywhere.
	Namespace string `json:"namespace,omitempty"`
	// Namespaces limits the policy to these namespaces (wildcards; empty
	// is all); ExcludeNamespaces takes namespaces out again.
	Namespaces        []string `json:"namespaces,omitempty"`
	ExcludeNamespaces []string `json:"excludeNamespaces,omitempty"`
	// ModeOverrides change Mode in some namespaces (Kyverno's
	// validationFailureActionOverrides); the first that names the
	// namespace wins.
	ModeOverrides []ModeOverride `json:"modeOverrides,omitempty"`
	// Images are the globs an image must match (at least one); Skip the
	// globs that exclude it again.
	Images    []string  `json:"images"`
	Skip      []string  `json:"skip,omitempty"`
	GlobStyle GlobStyle `json:"globStyle"`
	// Match limits the policy to these workload kinds (and labels);
	// empty is every workload.
	Match []Match `json:"match,omitempty"`
	Mode  Mode    `json:"mode"`
	// MutateDigest resolves tags to digests in the admitted object.
	MutateDigest bool `json:"mutateDigest"`
	// VerifyDigest requires images to be referenced by digest (after
	// MutateDigest).
	VerifyDigest bool `json:"verifyDigest,omitempty"`
	// FailOpen allows (with a warning) an image whose verification did not
	// finish in time or whose registry failed; otherwise such an image is
	// denied, naming the registry.
	FailOpen bool `json:"failOpen,omitempty"`
	// Requirements must all be met.
	Requirements []Requirement `json:"requirements"`
	// ResultPolicy, when set, judges what the authorities found once they
	// are met (a ClusterImagePolicy's spec.policy).
	ResultPolicy *ResultPolicy `json:"resultPolicy,omitempty"`
	// Invalid is why the policy did not load (see Unreadable): it then
	// only names the images it was meant to guard.
	Invalid error `json:"-"`

	images, skip []matcher
}

// ModeOverride is the mode in some namespaces (wildcards).
type ModeOverride struct {
	Namespaces []string `json:"namespaces"`
	Mode       Mode     `json:"mode"`
}

// ModeIn is the policy's mode in namespace ns.
func (p *Policy) ModeIn(ns string) Mode {
	for _, o := range p.ModeOverrides {
		if namespaceIn(ns, o.Namespaces) {
			return o.Mode
		}
	}
	return p.Mode
}

// ResultPolicy is a Rego (package sigstore, rule isCompliant) or CUE
// policy over {"authorityMatches": {AUTHORITY: {"signatures": [...],
// "attestations": {NAME: [...]}, "static": bool}}} and, when asked, the
// workload's spec, metadata and type (policy-controller's input).
type ResultPolicy struct {
	Type              string `json:"type"`
	Data              string `json:"data"`
	IncludeSpec       bool   `json:"includeSpec,omitempty"`
	IncludeObjectMeta bool   `json:"includeObjectMeta,omitempty"`
	IncludeTypeMeta   bool   `json:"includeTypeMeta,omitempty"`
}

// Match is a workload kind ("Pod", "Deployment", ...; "" is any) and
// labels the object must carry.
type Match struct {
	Kind   string            `json:"kind,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Requirement is met when Count of its authorities pass (every one when
// Count is 0). A ClusterImagePolicy is one requirement with Count 1 (any
// authority); each Kyverno attestor set is one requirement.
type Requirement struct {
	Count       int         `json:"count,omitempty"`
	Authorities []Authority `json:"authorities"`
}

// Needed is how many authorities must pass.
func (r Requirement) Needed() int {
	if r.Count <= 0 || r.Count > len(r.Authorities) {
		return len(r.Authorities)
	}
	return r.Count
}

// Authority is one signer an image may be signed by, or a static answer.
type Authority struct {
	Name string `json:"name"`
	// Exactly one of Key, Keyless, Static.
	Key     *Key     `json:"key,omitempty"`
	Keyless *Keyless `json:"keyless,omitempty"`
	Static  *Static  `json:"static,omitempty"`
	// Sources are repositories holding the signatures instead of the
	// image's own (cosign's COSIGN_REPOSITORY); the first is used.
	Sources []string `json:"sources,omitempty"`
	// SignatureFormat: "" takes both layouts; "bundle" only bundles;
	// "legacy" only the legacy .sig layout.
	SignatureFormat string `json:"signatureFormat,omitempty"`
	// IgnoreTlog accepts signatures without a transparency-log entry.
	IgnoreTlog bool `json:"ignoreTlog,omitempty"`
	// TrustRoot names a trusted root the server was given (its logs, CAs,
	// CT logs, TSAs); "" is the server's default.
	TrustRoot string `json:"trustRoot,omitempty"`
	// TlogKeys are extra Rekor public keys (PEM) to trust.
	TlogKeys []string `json:"tlogKeys,omitempty"`
	// Attestations, when present, are checked instead of signatures: each
	// must be found, verified under this authority and satisfy its policy.
	Attestations []Attestation `json:"attestations,omitempty"`
}

// Key is a public key (PEM), inline or from a Secret.
type Key struct {
	PEM           string     `json:"pem,omitempty"`
	SecretRef     *SecretRef `json:"secretRef,omitempty"`
	HashAlgorithm string     `json:"hashAlgorithm,omitempty"`
}

// SecretRef names a Secret holding key material.
type SecretRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// Keyless is a certificate identity under trusted CAs.
type Keyless struct {
	Identities []Identity `json:"identities"`
	// CACert is a PEM chain (root last) to trust besides the trust root's.
	CACert    string `json:"caCert,omitempty"`
	IgnoreSCT bool   `json:"ignoreSCT,omitempty"`
	// CTLogKeys are extra CT log public keys (PEM).
	CTLogKeys []string `json:"ctlogKeys,omitempty"`
	// UseSignedTimestamps dates signatures by RFC 3161 timestamps.
	UseSignedTimestamps bool `json:"useSignedTimestamps,omitempty"`
	// TSAChain is a PEM chain of a timestamp authority to trust.
	TSAChain string `json:"tsaChain,omitempty"`
}

// Identity is an issuer and subject, exact or as regular expressions.
type Identity struct {
	Issuer        string `json:"issuer,omitempty"`
	IssuerRegExp  string `json:"issuerRegExp,omitempty"`
	Subject       string `json:"subject,omitempty"`
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
}

// Static passes or fails every image.
type Static struct {
	Pass    bool   `json:"pass"`
	Message string `json:"message,omitempty"`
}

// Attestation is an attestation an image must carry.
type Attestation struct {
	Name string `json:"name"`
	// PredicateType is a URI (shorthands are expanded when read).
	PredicateType string `json:"predicateType"`
	// PolicyType is "rego", "cue" or "conditions" (Kyverno); "" is none.
	PolicyType string `json:"policyType,omitempty"`
	// Policy is the Rego or CUE source.
	Policy string `json:"policy,omitempty"`
	// Conditions are Kyverno's: every All holds and at least one Any
	// (when there are any), per condition block.
	Conditions []ConditionBlock `json:"conditions,omitempty"`
	// RequireAll: every verified attestation of the type must satisfy the
	// policy (Kyverno); otherwise one is enough (policy-controller).
	RequireAll bool `json:"requireAll,omitempty"`
}

// ConditionBlock is one of Kyverno's conditions entries.
type ConditionBlock struct {
	All []Condition `json:"all,omitempty"`
	Any []Condition `json:"any,omitempty"`
}

// Condition is a Kyverno condition: a JMESPath key, an operator, a value.
type Condition struct {
	Key      string          `json:"key"`
	Operator string          `json:"operator"`
	Value    json.RawMessage `json:"value,omitempty"`
	Message  string          `json:"message,omitempty"`
}

// Fingerprint identifies what the authority checks (the verification cache
// is keyed by image digest and fingerprint).
func (a *Authority) Fingerprint() string {
	b, _ := json.Marshal(a)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:16])
}
