package policy

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// regoPolicy is a compiled Rego policy: query data.signature.allow, as
// cosign's, and data.signature.deny for messages when the policy has it.
type regoPolicy struct {
	file        string
	allow, deny rego.PreparedEvalQuery
	hasDeny     bool
}

const (
	allowQuery = "data.signature.allow"
	denyQuery  = "data.signature.deny"
)

// compileRego compiles src in cosign's Rego v0 syntax, or failing that in
// Rego v1, once.
func compileRego(file string, src []byte) (*regoPolicy, error) {
	var firstErr error
	for _, v := range []ast.RegoVersion{ast.RegoV0, ast.RegoV1} {
		mod, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{RegoVersion: v})
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if mod.Package.Path.String() != "data.signature" {
			return nil, fmt.Errorf("policy %s: package %s; cosign's policies are package signature (rule allow)", file, mod.Package.Path)
		}
		p := &regoPolicy{file: file}
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
	input, err := ast.ValueFromReader(bytes.NewReader(statement))
	if err != nil {
		return fmt.Errorf("policy %s: the statement is not JSON: %w", p.file, err)
	}
	rs, err := p.allow.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return fmt.Errorf("policy %s: evaluating %s failed (not allowed): %w", p.file, allowQuery, err)
	}
	if len(rs) == 0 {
		return &Denial{File: p.file, Rule: allowQuery, Messages: append([]string{"allow is undefined (no allow rule matched)"}, p.messages(ctx, input)...)}
	}
	if rs.Allowed() {
		return nil
	}
	return &Denial{File: p.file, Rule: allowQuery, Messages: append([]string{fmt.Sprintf("allow is %v", rs[0].Expressions[0].Value)}, p.messages(ctx, input)...)}
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
