package admit

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"hallmark.dev/hallmark/pkg/check"
	"hallmark.dev/hallmark/pkg/imagepolicy"
	"hallmark.dev/hallmark/pkg/oci"
)

// decideImage checks one image reference against every policy matching it.
func (e *Engine) decideImage(ctx context.Context, r Request, ref, budget string) ImageResult {
	ir := ImageResult{Image: ref}
	var matched []*compiledPolicy
	im := imagepolicy.NewImage(ref)
	for _, p := range e.policies {
		if p.MatchesImage(im, r.Namespace, r.Kind, r.Labels) {
			matched = append(matched, p)
		}
	}
	if len(matched) == 0 {
		return ir
	}
	all := func(result string, reason string) ImageResult {
		for _, p := range matched {
			ir.Policies = append(ir.Policies, PolicyResult{Policy: p.Name, Mode: string(p.ModeIn(r.Namespace)), Result: result, Reasons: []string{reason},
				mutateDigest: p.MutateDigest, failOpen: p.FailOpen})
		}
		return ir
	}
	clients := e.clients(r)
	base, err := clients("")
	if err != nil {
		return all("fail", err.Error())
	}
	parsed, err := base.ParseReference(ref)
	if err != nil {
		return all("fail", err.Error())
	}
	_, byDigest := parsed.(name.Digest)
	// Policies that did not load deny without asking the registry.
	var loaded []*compiledPolicy
	for _, p := range matched {
		if p.broken != nil {
			ir.Policies = append(ir.Policies, PolicyResult{Policy: p.Name, Mode: string(p.ModeIn(r.Namespace)), Result: "fail",
				Reasons: []string{"the policy did not load, so it denies what it names: " + oneLine(p.broken.Error())}})
			continue
		}
		loaded = append(loaded, p)
	}
	if matched = loaded; len(matched) == 0 {
		return ir
	}
	if r.RequireDigest && !byDigest {
		// The validating webhook: a tag that a pinning policy matches
		// should have been pinned by the mutating webhook; judging what
		// the tag points to now would not be judging what will run.
		var rest []*compiledPolicy
		for _, p := range matched {
			if p.MutateDigest && p.ModeIn(r.Namespace) == imagepolicy.Enforce {
				// Not pinned: the mutating webhook could not resolve the tag
				// (or is not registered). Under fail-open that is the
				// registry's failure, admitted with a warning.
				res := "fail"
				if p.FailOpen {
					res = "undecided"
				}
				ir.Policies = append(ir.Policies, PolicyResult{Policy: p.Name, Mode: string(imagepolicy.Enforce), Result: res, mutateDigest: true, failOpen: p.FailOpen,
					Reasons: []string{"want the image pinned to a digest by the mutating webhook, got a tag: is the mutating webhook registered, and could it reach the registry?"}})
				continue
			}
			rest = append(rest, p)
		}
		if matched = rest; len(matched) == 0 {
			return ir
		}
	}
	digest, out := e.resolve(ctx, base, parsed, budget)
	if out != nil {
		if out.Undecided {
			return all("undecided", out.Reason)
		}
		return all("fail", out.Reason)
	}
	ir.Digest = digest.DigestStr()
	results := make([]PolicyResult, len(matched))
	var wg sync.WaitGroup
	for i, p := range matched {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					results[i] = PolicyResult{Policy: p.Name, Mode: string(p.ModeIn(r.Namespace)), Result: "fail",
						Reasons: []string{fmt.Sprintf("the policy failed unexpectedly: %v", v)}}
				}
			}()
			results[i] = e.decidePolicy(ctx, r, p, digest, byDigest, clients, budget)
		}()
	}
	wg.Wait()
	ir.Policies = append(ir.Policies, results...)
	return ir
}

// decidePolicy: every requirement must be met by enough distinct signers.
func (e *Engine) decidePolicy(ctx context.Context, r Request, p *compiledPolicy, d name.Digest, byDigest bool, clients func(string) (*oci.Client, error), budget string) PolicyResult {
	pr := PolicyResult{Policy: p.Name, Mode: string(p.ModeIn(r.Namespace)), Result: "pass", mutateDigest: p.MutateDigest, failOpen: p.FailOpen}
	if p.VerifyDigest && !p.MutateDigest && !byDigest {
		pr.Result = "fail"
		pr.Reasons = append(pr.Reasons, fmt.Sprintf("verifyDigest: want the image referenced by digest, got a tag (pin it: @%s)", d.DigestStr()))
	}
	matches := map[string]*authorityMatch{}
	for ri, auths := range p.reqs {
		outs := make([]outcome, len(auths))
		var wg sync.WaitGroup
		for ai, a := range auths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[ai] = e.verify(ctx, a, d, clients, budget)
			}()
		}
		wg.Wait()
		need := p.Requirements[ri].Needed()
		passed, undecided := 0, 0
		var signers, reasons []string
		var identities [][]string
		for ai, o := range outs {
			switch {
			case o.Pass:
				passed++
				identities = append(identities, o.identities())
				signers = append(signers, o.Signer)
				matches[authName(auths[ai], ai)] = o.Match
			case o.Undecided:
				undecided++
				reasons = append(reasons, fmt.Sprintf("authority %s: %s", authName(auths[ai], ai), o.Reason))
			default:
				reasons = append(reasons, fmt.Sprintf("authority %s: %s", authName(auths[ai], ai), o.Reason))
			}
		}
		pr.Signers = append(pr.Signers, signers...)
		// N of M is N signers: authorities one person's signature
		// satisfies twice count once.
		if distinct := distinctSigners(identities); need > 1 && distinct < passed {
			reasons = append(reasons, fmt.Sprintf("%d authorities passed, but on signatures of %d distinct signer(s)", passed, distinct))
			passed = distinct
		}
		if passed >= need {
			continue
		}
		prefix := ""
		if need > 1 || len(auths) > 1 {
			prefix = fmt.Sprintf("want %d of %d authorities, got %d: ", need, len(auths), passed)
		}
		if len(p.reqs) > 1 {
			prefix = fmt.Sprintf("requirement %d: ", ri) + prefix
		}
		if passed+undecided >= need && pr.Result != "fail" {
			pr.Result = "undecided"
		} else {
			pr.Result = "fail"
		}
		for i := range reasons {
			reasons[i] = prefix + reasons[i]
		}
		pr.Reasons = append(pr.Reasons, reasons...)
	}
	if p.result != nil && pr.Result == "pass" {
		if err := p.judgeResult(ctx, r, matches); err != nil {
			pr.Result = "fail"
			pr.Reasons = append(pr.Reasons, "spec.policy: "+oneLine(err.Error()))
		}
	}
	return pr
}

// judgeResult evaluates spec.policy over what the authorities that passed
// found (and the workload, when the policy asks for it).
func (p *compiledPolicy) judgeResult(ctx context.Context, r Request, matches map[string]*authorityMatch) error {
	in := map[string]any{"authorityMatches": matches}
	if rp := p.ResultPolicy; (rp.IncludeSpec || rp.IncludeObjectMeta || rp.IncludeTypeMeta) && len(r.Object) > 0 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(r.Object, &obj); err != nil {
			return fmt.Errorf("the workload is not JSON: %w", err)
		}
		if rp.IncludeSpec {
			in["spec"] = obj["spec"]
		}
		if rp.IncludeObjectMeta {
			in["metadata"] = obj["metadata"]
		}
		if rp.IncludeTypeMeta {
			in["typemeta"] = map[string]json.RawMessage{"kind": obj["kind"], "apiVersion": obj["apiVersion"]}
		}
	}
	doc, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return p.result.Evaluate(ctx, doc)
}

func authName(a *authority, i int) string {
	if a.spec.Name != "" {
		return a.spec.Name
	}
	return fmt.Sprintf("#%d", i)
}

// verify is one authority's outcome for digest: cached, or joined to the
// verification already running, or run now (detached from ctx, bounded by
// VerifyTimeout, so that it fills the cache even if ctx ends first).
func (e *Engine) verify(ctx context.Context, a *authority, d name.Digest, clients func(string) (*oci.Client, error), budget string) outcome {
	key := d.String() + "|" + a.key
	out, hit, err := e.shared.cache.do(ctx, key, func() (outcome, time.Duration) {
		e.shared.stats.Verifications.Add(1)
		vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.VerifyTimeout)
		defer cancel()
		out := a.check(vctx, clients, d, e.cfg.Check)
		switch {
		case out.Undecided:
			return out, 0
		case out.Pass:
			return out, e.cfg.TTL
		default:
			return out, e.cfg.FailTTL
		}
	})
	if hit {
		e.shared.stats.CacheHits.Add(1)
	}
	if err != nil {
		registry := d.RegistryStr()
		if len(a.spec.Sources) > 0 {
			if r, err := name.NewRepository(a.spec.Sources[0]); err == nil {
				registry = r.RegistryStr()
			}
		}
		return outcome{Undecided: true, Reason: fmt.Sprintf("verification did not finish in %s (registry %s slow)", budget, registry)}
	}
	return out
}

// resolve is ref's digest: a digest reference as is, a tag from the
// registry (concurrent resolutions of one tag coalesce). A failure is the
// outcome to report.
func (e *Engine) resolve(ctx context.Context, c *oci.Client, ref name.Reference, budget string) (name.Digest, *outcome) {
	if d, ok := ref.(name.Digest); ok {
		return d, nil
	}
	ch := e.shared.resolves.DoChan(ref.String(), func() (any, error) {
		e.shared.stats.Resolves.Add(1)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.VerifyTimeout)
		defer cancel()
		d, _, err := c.Resolve(rctx, ref)
		return d, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			if oci.IsNotFound(res.Err) {
				return name.Digest{}, &outcome{Reason: fmt.Sprintf("resolving the tag: %v: %s", check.ErrNoSuchImage, res.Err)}
			}
			o := classify(res.Err, ref.Context().RegistryStr())
			o.Reason = "resolving the tag: " + o.Reason
			return name.Digest{}, &o
		}
		return res.Val.(name.Digest), nil
	case <-ctx.Done():
		return name.Digest{}, &outcome{Undecided: true, Reason: fmt.Sprintf("resolving the tag did not finish in %s (registry %s slow)", budget, ref.Context().RegistryStr())}
	}
}

// clients makes the request's registry clients: its credentials, and a
// signature repository when an authority names one.
func (e *Engine) clients(r Request) func(source string) (*oci.Client, error) {
	return func(source string) (*oci.Client, error) {
		opts := append([]oci.Option(nil), e.cfg.Registry...)
		if r.Keychain != nil {
			opts = append(opts, oci.WithKeychain(r.Keychain))
		}
		if source != "" {
			opts = append(opts, oci.WithSignatureRepository(source))
		}
		return oci.New(opts...)
	}
}

// distinctSigners is how many of the passing authorities can each be
// credited to a different signer (a maximum matching of authorities to the
// identities that satisfied them).
func distinctSigners(identities [][]string) int {
	owner := map[string]int{} // identity -> authority credited with it
	var try func(a int, seen map[string]bool) bool
	try = func(a int, seen map[string]bool) bool {
		for _, id := range identities[a] {
			if seen[id] {
				continue
			}
			seen[id] = true
			if o, taken := owner[id]; !taken || try(o, seen) {
				owner[id] = a
				return true
			}
		}
		return false
	}
	n := 0
	for a := range identities {
		if try(a, map[string]bool{}) {
			n++
		}
	}
	return n
}
