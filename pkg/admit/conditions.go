package admit

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jmespath-community/go-jmespath"

	"hallmark.dev/hallmark/pkg/imagepolicy"
)

// conditions are Kyverno's attestation conditions, compiled once: each
// block's all must hold and, when it has any, one of them; every block must
// hold. Keys and values are literals or {{ JMESPath }} over the predicate.
type conditions struct {
	where  string
	blocks []condBlock
}

type condBlock struct{ all, any []cond }

type cond struct {
	src      imagepolicy.Condition
	key      operand
	value    operand
	operator string
}

// operand is a literal, or text with {{ JMESPath }} expressions over the
// predicate, substituted innermost first as Kyverno does: an operand that
// is one expression is its value (any JSON type), otherwise the text with
// each expression's value written in.
type operand struct {
	literal any
	text    string
	vars    bool
}

var innermost = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

var leadingName = regexp.MustCompile(`^[A-Za-z_@$][A-Za-z0-9_]*`)

// reservedRoots are Kyverno's variables that are not the predicate.
var reservedRoots = map[string]bool{"request": true, "images": true, "element": true, "elementIndex": true,
	"serviceAccountName": true, "serviceAccountNamespace": true, "target": true, "@": true, "$": true}

var operators = []string{"Equals", "NotEquals", "In", "NotIn", "AnyIn", "AllIn", "AnyNotIn", "AllNotIn",
	"GreaterThan", "GreaterThanOrEquals", "LessThan", "LessThanOrEquals"}

// functions are the Kyverno JMESPath extensions policies use.
var functions = []jmespath.FunctionEntry{{
	Name: "regex_match",
	Arguments: []jmespath.ArgSpec{
		{Types: []jmespath.JpType{jmespath.JpString}},
		{Types: []jmespath.JpType{jmespath.JpString, jmespath.JpNumber}},
	},
	Handler: func(args []any) (any, error) {
		re, err := regexp.Compile(args[0].(string))
		if err != nil {
			return nil, fmt.Errorf("regex_match: %w", err)
		}
		return re.MatchString(fmt.Sprint(args[1])), nil
	},
}}

func compileConditions(blocks []imagepolicy.ConditionBlock, where string) (*conditions, error) {
	out := &conditions{where: where}
	for bi, b := range blocks {
		var cb condBlock
		for _, part := range []struct {
			name string
			in   []imagepolicy.Condition
			to   *[]cond
		}{{"all", b.All, &cb.all}, {"any", b.Any, &cb.any}} {
			for i, c := range part.in {
				at := fmt.Sprintf("%s conditions[%d].%s[%d]", where, bi, part.name, i)
				if !slices.Contains(operators, c.Operator) {
					return nil, fmt.Errorf("%s: operator %q; want one of %s", at, c.Operator, strings.Join(operators, ", "))
				}
				key, err := compileOperand(c.Key)
				if err != nil {
					return nil, fmt.Errorf("%s: key: %w", at, err)
				}
				var raw any
				if len(c.Value) > 0 {
					if err := json.Unmarshal(c.Value, &raw); err != nil {
						return nil, fmt.Errorf("%s: value: %w", at, err)
					}
				}
				val := operand{literal: raw, text: string(c.Value)}
				if s, ok := raw.(string); ok {
					if val, err = compileOperand(s); err != nil {
						return nil, fmt.Errorf("%s: value: %w", at, err)
					}
				}
				*part.to = append(*part.to, cond{src: c, key: key, value: val, operator: c.Operator})
			}
		}
		out.blocks = append(out.blocks, cb)
	}
	return out, nil
}

func compileOperand(s string) (operand, error) {
	if !strings.Contains(s, "{{") {
		return operand{literal: s, text: s}, nil
	}
	// Check what can be checked before substitution: the innermost
	// expressions, and that they read the predicate (Kyverno's request,
	// images and context variables are not the attestation's: reading them
	// from the predicate would compare nulls and hold).
	for _, m := range innermost.FindAllStringSubmatch(s, -1) {
		expr := strings.TrimSpace(m[1])
		if _, err := jmespath.Compile(expr, functions...); err != nil {
			return operand{}, fmt.Errorf("JMESPath %q: %w", expr, err)
		}
		if root := leadingName.FindString(strings.TrimLeft(expr, `( "'`)); reservedRoots[root] {
			return operand{}, fmt.Errorf("{{ %s }}: Kyverno's %s variables are not supported; conditions read the attestation's predicate", expr, root)
		}
	}
	return operand{text: s, vars: true}, nil
}

func (o operand) eval(predicate any) (any, error) {
	if !o.vars {
		return o.literal, nil
	}
	s := o.text
	for range 32 {
		loc := innermost.FindStringSubmatchIndex(s)
		if loc == nil {
			return s, nil
		}
		expr := strings.TrimSpace(s[loc[2]:loc[3]])
		e, err := jmespath.Compile(expr, functions...)
		if err != nil {
			return nil, fmt.Errorf("%s: JMESPath %q: %w", o.text, expr, err)
		}
		v, err := e.Search(predicate)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.text, err)
		}
		if strings.TrimSpace(s[:loc[0]]) == "" && strings.TrimSpace(s[loc[1]:]) == "" {
			return v, nil
		}
		var text string
		if str, ok := v.(string); ok {
			text = str
		} else {
			b, _ := json.Marshal(v)
			text = string(b)
		}
		s = s[:loc[0]] + text + s[loc[1]:]
	}
	return nil, fmt.Errorf("%s: too deeply nested", o.text)
}

// judge evaluates the conditions on a statement's predicate.
func (cs *conditions) judge(_ context.Context, statement []byte) error {
	var st struct {
		Predicate any `json:"predicate"`
	}
	if err := json.Unmarshal(statement, &st); err != nil {
		return fmt.Errorf("%s: statement: %w", cs.where, err)
	}
	for bi, b := range cs.blocks {
		for _, c := range b.all {
			if ok, got, err := c.holds(st.Predicate); err != nil {
				return fmt.Errorf("conditions[%d].all: %w", bi, err)
			} else if !ok {
				return fmt.Errorf("conditions[%d].all: %s", bi, c.failure(got))
			}
		}
		if len(b.any) == 0 {
			continue
		}
		var fails []string
		for _, c := range b.any {
			ok, got, err := c.holds(st.Predicate)
			if err != nil {
				return fmt.Errorf("conditions[%d].any: %w", bi, err)
			}
			if ok {
				fails = nil
				break
			}
			fails = append(fails, c.failure(got))
		}
		if fails != nil {
			return fmt.Errorf("conditions[%d].any: none held: %s", bi, strings.Join(fails, "; "))
		}
	}
	return nil
}

func (c cond) failure(got any) string {
	g, _ := json.Marshal(got)
	s := fmt.Sprintf("%s %s %s: got %s", c.src.Key, c.operator, c.value.text, g)
	if c.src.Message != "" {
		s = c.src.Message + " (" + s + ")"
	}
	return s
}

// holds evaluates the condition; got is the key's value.
func (c cond) holds(predicate any) (bool, any, error) {
	k, err := c.key.eval(predicate)
	if err != nil {
		return false, nil, err
	}
	v, err := c.value.eval(predicate)
	if err != nil {
		return false, k, err
	}
	switch c.operator {
	case "Equals":
		return equal(k, v), k, nil
	case "NotEquals":
		return !equal(k, v), k, nil
	case "In", "AllIn":
		return allIn(k, v), k, nil
	case "AnyIn":
		return anyIn(k, v), k, nil
	case "NotIn", "AllNotIn":
		return !anyIn(k, v), k, nil
	case "AnyNotIn":
		return !allIn(k, v), k, nil
	}
	kf, kok := number(k)
	vf, vok := number(v)
	if !kok || !vok {
		return false, k, fmt.Errorf("%s %s %s: both sides must be numbers (got %v and %v)", c.src.Key, c.operator, c.value.text, k, v)
	}
	switch c.operator {
	case "GreaterThan":
		return kf > vf, k, nil
	case "GreaterThanOrEquals":
		return kf >= vf, k, nil
	case "LessThan":
		return kf < vf, k, nil
	default: // LessThanOrEquals
		return kf <= vf, k, nil
	}
}

// equal compares JSON values; a string value may hold * and ? wildcards.
func equal(k, v any) bool {
	if vs, ok := v.(string); ok {
		if ks, ok := k.(string); ok {
			return imagepolicy.WildcardMatch(vs, ks)
		}
		if kf, ok := number(k); ok {
			if vf, ok := number(v); ok {
				return kf == vf
			}
		}
	}
	kb, _ := json.Marshal(k)
	vb, _ := json.Marshal(v)
	return string(kb) == string(vb)
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func allIn(k, v any) bool {
	for _, x := range asList(k) {
		if !anyEqual(x, asList(v)) {
			return false
		}
	}
	return true
}

func anyIn(k, v any) bool {
	for _, x := range asList(k) {
		if anyEqual(x, asList(v)) {
			return true
		}
	}
	return false
}

func anyEqual(x any, in []any) bool {
	for _, y := range in {
		if equal(x, y) {
			return true
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case string:
		var f float64
		if _, err := fmt.Sscanf(n, "%g", &f); err == nil && fmt.Sprint(f) == strings.TrimSpace(n) {
			return f, true
		}
	}
	return 0, false
}
