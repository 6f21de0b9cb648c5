package admit

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/singleflight"

	"hallmark.dev/hallmark/pkg/check"
	"hallmark.dev/hallmark/pkg/imagepolicy"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/policy"
	"hallmark.dev/hallmark/pkg/trust"
)

// NoMatch is what happens to an image no policy matches.
type NoMatch string

const (
	NoMatchAllow NoMatch = "allow"
	NoMatchWarn  NoMatch = "warn"
	NoMatchDeny  NoMatch = "deny"
)

// SecretReader reads public keys from Secrets (in a cluster).
type SecretReader interface {
	PublicKey(ctx context.Context, ref imagepolicy.SecretRef) (string, error)
}

// Config configures an Engine.
type Config struct {
	Policies []*imagepolicy.Policy
	// TrustRoots are the trusted roots authorities may name; "" is the
	// default for authorities that name none.
	TrustRoots map[string]*trust.Material
	// Registry are the options of every registry client (insecure
	// registries, transport); credentials come with each Request.
	Registry []oci.Option
	NoMatch  NoMatch
	// TTL is how long a pass is cached (default 10 minutes), FailTTL a
	// verdict against (default 30 s); CacheSize bounds the entries
	// (default 10,000).
	TTL, FailTTL time.Duration
	CacheSize    int
	// VerifyTimeout bounds one verification, which runs on after the
	// request that started it has answered (default 30 s).
	VerifyTimeout time.Duration
	Check         check.Options
	Secrets       SecretReader
	Logger        *slog.Logger
	// OnInvalid, when set, is told of each policy that does not compile,
	// which is then left out (a watched cluster resource must not stop the
	// others); when nil, New and WithPolicies fail on it.
	OnInvalid func(p *imagepolicy.Policy, err error)
}

// Engine decides requests. It is safe for concurrent use; WithPolicies
// makes an engine for new policies sharing the cache.
type Engine struct {
	cfg      Config
	policies []*compiledPolicy
	shared   *shared
}

// shared is what engines for successive policy sets share.
type shared struct {
	cache    *cache
	resolves singleflight.Group
	stats    Stats
}

// Stats count the engine's work (for metrics and tests).
type Stats struct {
	Verifications atomic.Int64 // verifications run (cache misses, after coalescing)
	CacheHits     atomic.Int64
	Resolves      atomic.Int64 // tag resolutions sent to registries
}

type compiledPolicy struct {
	*imagepolicy.Policy
	reqs   [][]*authority
	result policy.Policy // spec.policy, compiled; nil without one
	broken error         // the policy did not load: it denies what it matches
}

// New compiles the policies: every key, identity, trust root, glob and
// attestation policy is checked here, so a bad policy fails at load, not at
// the first pod.
func New(cfg Config) (*Engine, error) {
	if cfg.TTL == 0 {
		cfg.TTL = 10 * time.Minute
	}
	if cfg.FailTTL == 0 {
		cfg.FailTTL = 30 * time.Second
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 10000
	}
	if cfg.VerifyTimeout == 0 {
		cfg.VerifyTimeout = 30 * time.Second
	}
	if cfg.NoMatch == "" {
		cfg.NoMatch = NoMatchAllow
	}
	switch cfg.NoMatch {
	case NoMatchAllow, NoMatchWarn, NoMatchDeny:
	default:
		return nil, fmt.Errorf("no-match %q; want allow, warn or deny", cfg.NoMatch)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// One connection pool for every request's clients (a later
	// WithTransport in cfg.Registry wins).
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = cfg.VerifyTimeout
	t.MaxIdleConnsPerHost = 64
	cfg.Registry = append([]oci.Option{oci.WithTransport(t)}, cfg.Registry...)
	e := &Engine{cfg: cfg, shared: &shared{cache: newCache(cfg.CacheSize)}}
	return e, e.compile()
}

// WithPolicies is an engine for another policy set, sharing e's cache.
func (e *Engine) WithPolicies(ps []*imagepolicy.Policy) (*Engine, error) {
	cfg := e.cfg
	cfg.Policies = ps
	n := &Engine{cfg: cfg, shared: e.shared}
	return n, n.compile()
}

func (e *Engine) compile() error {
	names := map[string]string{}
	for _, p := range e.cfg.Policies {
		var cp *compiledPolicy
		var err error
		if prev, dup := names[p.Name]; dup {
			err = fmt.Errorf("%s is defined twice (%s and %s)", p.Name, prev, p.Source)
		} else {
			names[p.Name] = p.Source
			if cp, err = e.compilePolicy(p); err == nil && p.Invalid != nil {
				cp, err = nil, p.Invalid
			}
			if err != nil && p.Source != "" && e.cfg.OnInvalid == nil {
				err = fmt.Errorf("%s: %w", p.Source, err) // which file, with --policy DIR
			}
		}
		if err != nil {
			if e.cfg.OnInvalid == nil {
				return err
			}
			e.cfg.OnInvalid(p, err)
			// A policy that does not load still guards what it names: it
			// denies the images its patterns match, saying why, rather than
			// leaving them to looser policies or to no-match.
			if cp = brokenPolicy(p, err); cp == nil {
				continue
			}
		}
		e.policies = append(e.policies, cp)
	}
	return nil
}

// brokenPolicy is p, which failed to load with err, as a policy denying
// what it matches; nil when even its patterns do not compile.
func brokenPolicy(p *imagepolicy.Policy, err error) *compiledPolicy {
	c := *p
	c.Requirements, c.ResultPolicy = nil, nil
	if c.Mode != imagepolicy.Warn {
		c.Mode = imagepolicy.Enforce
	}
	if c.CompileMatchLenient() != nil {
		return nil
	}
	return &compiledPolicy{Policy: &c, broken: err}
}

func (e *Engine) compilePolicy(orig *imagepolicy.Policy) (*compiledPolicy, error) {
	// A copy: the policies of a running engine are matched concurrently,
	// and a reload compiles the same ones again.
	c := *orig
	p := &c
	if err := p.Compile(); err != nil {
		return nil, err
	}
	cp := &compiledPolicy{Policy: p}
	if rp := p.ResultPolicy; rp != nil {
		var err error
		if cp.result, err = policy.Compile(p.Name+" spec.policy", rp.Type, []byte(rp.Data), policy.PolicyController); err != nil {
			return nil, err
		}
	}
	for ri, r := range p.Requirements {
		var auths []*authority
		seen := map[string]bool{}
		for ai, a := range r.Authorities {
			where := fmt.Sprintf("%s authority %q", p.Name, a.Name)
			if a.Name == "" {
				where = fmt.Sprintf("%s requirement %d authority %d", p.Name, ri, ai)
			}
			ca, err := compileAuthority(a, e.cfg.TrustRoots, e.cfg.Secrets, where)
			if err != nil {
				return nil, err
			}
			if ca.signer != "" && len(a.Attestations) == 0 {
				if seen[ca.signer] && r.Count > 0 {
					return nil, fmt.Errorf("%s: signer %s is listed twice; count %d needs distinct signers", where, ca.signer, r.Count)
				}
				seen[ca.signer] = true
			}
			auths = append(auths, ca)
		}
		cp.reqs = append(cp.reqs, auths)
	}
	return cp, nil
}

// Stats are the engine's counters (shared with engines from WithPolicies).
func (e *Engine) Stats() *Stats { return &e.shared.stats }

// CacheLen is how many outcomes are cached.
func (e *Engine) CacheLen() int { return e.shared.cache.len() }

// Policies are the engine's policies.
func (e *Engine) Policies() []*imagepolicy.Policy { return e.cfg.Policies }

// Image is one image reference in a workload.
type Image struct {
	// Path is where it is in the object, as a JSON pointer
	// (/spec/containers/0/image): the digest patch replaces it.
	Path string
	Ref  string
}

// Request is one workload's images.
type Request struct {
	Namespace string
	Kind      string
	Labels    map[string]string // the workload's labels
	// Object is the workload as JSON, for policies that read its spec,
	// metadata or type (spec.policy's include*); may be nil.
	Object []byte
	Images []Image
	// Keychain gives registry credentials (the pod's pull secrets); nil is
	// anonymous.
	Keychain authn.Keychain
	// RequireDigest: images an enforcing policy pins (MutateDigest) must
	// arrive pinned — the validating webhook's rule, since the mutating
	// webhook ran first: a tag it could not pin is not admitted on the
	// strength of a digest the tag pointed to a moment ago.
	RequireDigest bool
}

// Decision is the answer to a Request.
type Decision struct {
	Allowed  bool
	Denials  []string
	Warnings []string
	// Patches replace tags by digests (JSON pointer → new reference).
	Patches []Patch
	Images  []ImageResult
}

// Patch replaces the image at Path by Value.
type Patch struct{ Path, Value string }

// ImageResult is what was decided for one image reference.
type ImageResult struct {
	Image    string         `json:"image"`
	Paths    []string       `json:"paths"`
	Digest   string         `json:"digest,omitempty"`
	Policies []PolicyResult `json:"policies"`
}

// PolicyResult is one policy's verdict on one image.
type PolicyResult struct {
	Policy string `json:"policy"`
	Mode   string `json:"mode"`
	// Result is "pass", "fail" or "undecided" (registry failed or time ran out).
	Result  string   `json:"result"`
	Signers []string `json:"signers,omitempty"`
	Reasons []string `json:"reasons,omitempty"`

	mutateDigest, failOpen bool
}

// Decide answers r inside ctx's deadline: every image is checked against
// every policy matching it, all at once, each (digest, authority) verified
// at most once across concurrent requests.
func (e *Engine) Decide(ctx context.Context, r Request) *Decision {
	start := time.Now()
	budget := "the time allowed"
	if dl, ok := ctx.Deadline(); ok {
		budget = fmt.Sprintf("%.1f s", dl.Sub(start).Seconds())
	}
	// One entry per distinct reference, in order of first appearance.
	var refs []string
	paths := map[string][]string{}
	for _, im := range r.Images {
		if _, ok := paths[im.Ref]; !ok {
			refs = append(refs, im.Ref)
		}
		paths[im.Ref] = append(paths[im.Ref], im.Path)
	}
	results := make([]ImageResult, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.decideImage(ctx, r, ref, budget)
			results[i].Paths = paths[ref]
		}()
	}
	wg.Wait()
	d := &Decision{Allowed: true, Images: results}
	for _, ir := range results {
		e.explain(d, ir)
	}
	return d
}

// explain turns one image's results into denials, warnings and patches.
func (e *Engine) explain(d *Decision, ir ImageResult) {
	if len(ir.Policies) == 0 {
		msg := fmt.Sprintf("image %s: no policy matches it (no-match: %s)", ir.Image, e.cfg.NoMatch)
		switch e.cfg.NoMatch {
		case NoMatchDeny:
			d.Allowed = false
			d.Denials = append(d.Denials, msg)
		case NoMatchWarn:
			d.Warnings = append(d.Warnings, msg)
		}
		return
	}
	mutate := false
	for _, pr := range ir.Policies {
		if pr.mutateDigest {
			mutate = true
		}
		if pr.Result == "pass" {
			continue
		}
		msg := fmt.Sprintf("image %s: policy %s: ", ir.Image, pr.Policy)
		for i, r := range pr.Reasons {
			if i > 0 {
				msg += "; "
			}
			msg += r
		}
		switch {
		case pr.Mode == string(imagepolicy.Warn):
			d.Warnings = append(d.Warnings, "(warn mode) "+msg)
		case pr.Result == "undecided" && pr.failOpen:
			d.Warnings = append(d.Warnings, "(fail-open) allowed without a verdict: "+msg)
		default:
			d.Allowed = false
			d.Denials = append(d.Denials, msg)
		}
	}
	if mutate && ir.Digest != "" {
		if _, isDigest := parseRef(ir.Image).(name.Digest); !isDigest {
			for _, p := range ir.Paths {
				d.Patches = append(d.Patches, Patch{Path: p, Value: withDigest(ir.Image, ir.Digest)})
			}
		}
	}
}

func parseRef(s string) name.Reference {
	ref, err := name.ParseReference(s, name.WeakValidation)
	if err != nil {
		return nil
	}
	return ref
}

// withDigest is image pinned to digest, keeping its tag for the reader
// (repo:tag@sha256:..., as policy-controller and Kyverno write it).
func withDigest(image, digest string) string {
	return image + "@" + digest
}

// Pin resolves to digests the tags of the images a policy with
// MutateDigest matches (the mutating webhook's job: what is verified next
// is what runs). An image whose tag does not resolve is left as written,
// with a warning; the validating webhook then says why.
func (e *Engine) Pin(ctx context.Context, r Request) (patches []Patch, warnings []string) {
	type pin struct {
		ref   string
		paths []string
	}
	var pins []*pin
	byRef := map[string]*pin{}
	for _, im := range r.Images {
		if p, ok := byRef[im.Ref]; ok {
			p.paths = append(p.paths, im.Path)
			continue
		}
		mutate := false
		ref := imagepolicy.NewImage(im.Ref)
		for _, p := range e.policies {
			if p.MutateDigest && p.MatchesImage(ref, r.Namespace, r.Kind, r.Labels) {
				mutate = true
				break
			}
		}
		if !mutate {
			continue
		}
		p := &pin{ref: im.Ref, paths: []string{im.Path}}
		byRef[im.Ref] = p
		pins = append(pins, p)
	}
	budget := "the time allowed"
	if dl, ok := ctx.Deadline(); ok {
		budget = fmt.Sprintf("%.1f s", time.Until(dl).Seconds())
	}
	digests := make([]string, len(pins))
	warns := make([]string, len(pins))
	var wg sync.WaitGroup
	for i, p := range pins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := e.clients(r)("")
			if err != nil {
				warns[i] = err.Error()
				return
			}
			ref, err := c.ParseReference(p.ref)
			if err != nil {
				warns[i] = err.Error()
				return
			}
			if _, isDigest := ref.(name.Digest); isDigest {
				return
			}
			d, out := e.resolve(ctx, c, ref, budget)
			if out != nil {
				warns[i] = fmt.Sprintf("image %s: not pinned to a digest: %s", p.ref, out.Reason)
				return
			}
			digests[i] = d.DigestStr()
		}()
	}
	wg.Wait()
	for i, p := range pins {
		if warns[i] != "" {
			warnings = append(warnings, warns[i])
		}
		if digests[i] == "" {
			continue
		}
		for _, path := range p.paths {
			patches = append(patches, Patch{Path: path, Value: withDigest(p.ref, digests[i])})
		}
	}
	return patches, warnings
}
