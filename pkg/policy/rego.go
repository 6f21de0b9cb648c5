package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// regoPolicy is a compiled Rego policy: query data.signature.allow, as
// cosign's, and data.signature.deny for messages when the policy has it
// (or another package and rule: policy-controller's sigstore.isCompliant).
type regoPolicy struct {
	file        string
	rule        Rule
	allow, deny rego.PreparedEvalQuery
	hasDeny     bool
}

// Rule is the Rego package and rule a policy must define.
type Rule struct{ Package, Name string }

var (
	// Cosign is cosign's --policy rule: package signature, rule allow.
	Cosign = Rule{"signature", "allow"}
	// PolicyController is a ClusterImagePolicy attestation policy's rule:
	// package sigstore, rule isCompliant.
	PolicyController = Rule{"sigstore", "isCompliant"}
)

// compileRego compiles src in cosign's Rego v0 syntax, or failing that in
// Rego v1, once.
func compileRego(file string, src []byte) (*regoPolicy, error) {
	return compileRegoRule(file, src, Cosign)
}

func compileRegoRule(file string, src []byte, rule Rule) (*regoPolicy, error) {
	allowQuery := "data." + rule.Package + "." + rule.Name
	denyQuery := "data." + rule.Package + ".deny"
	var firstErr error
	for _, v := range []ast.RegoVersion{ast.RegoV0, ast.RegoV1} {
		mod, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{RegoVersion: v})
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if mod.Package.Path.String() != "data."+rule.Package {
			return nil, fmt.Errorf("policy %s: package %s; want package %s (rule %s)", file, strings.TrimPrefix(mod.Package.Path.String(), "data."), rule.Package, rule.Name)
		}
		p := &regoPolicy{file: file, rule: rule}
		for _, r := range mod.Rules {
			if r.Head.Name.String() == "deny" {
				p.hasDeny = true
			}
		}
		ctx := context.Background()
		opts := func(q string) []func(*rego.Rego) {
			return []func(*rego.Rego){rego.Query(q), rego.ParsedModule(mod), rego.SetRegoVersion(v), rego.StrictBuiltinErrors(true)}
		}
		if p.allow, err = rego.New(opts(allowQuery)...).PrepareForEval(ctx); err != nil {
			return nil, fmt.Errorf("policy %s: %w", file, err)
		}
		if p.hasDeny {
			if p.deny, err = rego.New(opts(denyQuery)...).PrepareForEval(ctx); err != nil {
				return nil, fmt.Errorf("policy %s: %w", file, err)
			}
		}
		return p, nil
	}
	return nil, fmt.Errorf("policy %s does not parse as Rego: %w", file, firstErr)
}

func (p *regoPolicy) Name() string { return p.file }

func (p *regoPolicy) Evaluate(ctx context.Context, statement []byte) error {
	// Straight from JSON to OPA's values (numbers kept exact), without a
	// Go map in between: an SBOM predicate is megabytes.
	input, err := jsonValue(statement)
	if err != nil {
		return fmt.Errorf("policy %s: the statement is not JSON: %w", p.file, err)
	}
	allowQuery := "data." + p.rule.Package + "." + p.rule.Name
	rs, err := p.allow.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return fmt.Errorf("policy %s: evaluating %s failed (not allowed): %w", p.file, allowQuery, err)
	}
	if len(rs) == 0 {
		return &Denial{File: p.file, Rule: allowQuery, Messages: append([]string{p.rule.Name + " is undefined (no " + p.rule.Name + " rule matched)"}, p.messages(ctx, input)...)}
	}
	if rs.Allowed() {
		return nil
	}
	if ok, msgs, isResult := ruleResults(rs[0].Expressions[0].Value); isResult {
		if ok {
			return nil
		}
		return &Denial{File: p.file, Rule: allowQuery, Messages: msgs}
	}
	return &Denial{File: p.file, Rule: allowQuery, Messages: append([]string{fmt.Sprintf("%s is %v", p.rule.Name, rs[0].Expressions[0].Value)}, p.messages(ctx, input)...)}
}

// messages are the policy's deny set, when it has one.
func (p *regoPolicy) messages(ctx context.Context, input ast.Value) []string {
	if !p.hasDeny {
		return nil
	}
	rs, err := p.deny.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return []string{"deny: " + err.Error()}
	}
	var out []string
	for _, r := range rs {
		for _, e := range r.Expressions {
			switch v := e.Value.(type) {
			case []any:
				for _, m := range v {
					out = append(out, fmt.Sprint(m))
				}
			default:
				out = append(out, fmt.Sprint(v))
			}
		}
	}
	slices.Sort(out)
	return out
}

// ruleResults reads policy-controller's structured answer: a rule whose
// value is {"result": bool, "error": string, "warning": string} objects (a
// set or one object) passes when every result is true.
func ruleResults(v any) (ok bool, msgs []string, isResult bool) {
	var objs []map[string]any
	switch x := v.(type) {
	case map[string]any:
		objs = []map[string]any{x}
	case []any:
		for _, e := range x {
			m, isMap := e.(map[string]any)
			if !isMap {
				return false, nil, false
			}
			objs = append(objs, m)
		}
	default:
		return false, nil, false
	}
	if len(objs) == 0 {
		return false, nil, false
	}
	ok = true
	for _, m := range objs {
		r, has := m["result"].(bool)
		if !has {
			return false, nil, false
		}
		if !r {
			ok = false
			if e, _ := m["error"].(string); e != "" {
				msgs = append(msgs, e)
			}
		}
	}
	if !ok && len(msgs) == 0 {
		msgs = []string{"result is false"}
	}
	return ok, msgs, true
}
