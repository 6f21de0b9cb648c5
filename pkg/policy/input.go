package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// jsonValue turns JSON into OPA's value directly: without the interface{}
// tree (and the growing decoder buffer) that ast.ValueFromReader builds
// first, a statement costs its OPA value and little more — an SBOM
// predicate is megabytes. Numbers stay exact text, as OPA keeps them;
// duplicate keys keep the last, as encoding/json does.
func jsonValue(b []byte) (ast.Value, error) {
	if !json.Valid(b) {
		return nil, fmt.Errorf("not valid JSON")
	}
	p := &jsonParser{b: b}
	v := p.value()
	return v, p.err
}

// jsonParser reads JSON already checked by json.Valid.
type jsonParser struct {
	b   []byte
	i   int
	err error
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *jsonParser) value() ast.Value {
	p.ws()
	if p.err != nil || p.i >= len(p.b) {
		return ast.Null{}
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		obj := ast.NewObject()
		for {
			p.ws()
			if p.b[p.i] == '}' {
				p.i++
				return obj
			}
			k := p.str()
			p.ws()
			p.i++ // :
			v := p.value()
			obj.Insert(ast.StringTerm(k), ast.NewTerm(v))
			p.ws()
			if p.b[p.i] == ',' {
				p.i++
			}
		}
	case c == '[':
		p.i++
		var terms []*ast.Term
		for {
			p.ws()
			if p.b[p.i] == ']' {
				p.i++
				return ast.NewArray(terms...)
			}
			terms = append(terms, ast.NewTerm(p.value()))
			p.ws()
			if p.b[p.i] == ',' {
				p.i++
			}
		}
	case c == '"':
		return ast.String(p.str())
	case c == 't':
		p.i += 4
		return ast.Boolean(true)
	case c == 'f':
		p.i += 5
		return ast.Boolean(false)
	case c == 'n':
		p.i += 4
		return ast.Null{}
	default:
		start := p.i
		for p.i < len(p.b) && (p.b[p.i] == '-' || p.b[p.i] == '+' || p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E' || (p.b[p.i] >= '0' && p.b[p.i] <= '9')) {
			p.i++
		}
		n := p.b[start:p.i]
		if err := numberInRange(n); err != nil && p.err == nil {
			p.err = err
		}
		return ast.Number(n)
	}
}

// str reads a string at p.i; escapes are decoded by encoding/json (rare).
func (p *jsonParser) str() string {
	start := p.i
	p.i++
	escaped := false
	for p.b[p.i] != '"' {
		if p.b[p.i] == '\\' {
			escaped = true
			p.i++
		}
		p.i++
	}
	p.i++
	raw := p.b[start:p.i]
	if !escaped {
		s := string(raw[1 : len(raw)-1])
		if utf8.ValidString(s) {
			return s
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil && p.err == nil {
		p.err = err
	}
	return s
}

// numberInRange refuses numbers OPA cannot hold (an exponent like 1e9999999
// makes its comparisons panic, 1e999999 makes each take tens of
// milliseconds): at most 100 characters, exponent magnitude at most 1000.
func numberInRange(n []byte) error {
	if len(n) > 100 {
		return fmt.Errorf("number %.20s... has %d characters: out of range", n, len(n))
	}
	for i, c := range n {
		if c == 'e' || c == 'E' {
			exp := strings.TrimLeft(string(n[i+1:]), "+-")
			if e, err := strconv.Atoi(exp); err != nil || e > 1000 {
				return fmt.Errorf("number %s: exponent out of range", n)
			}
		}
	}
	return nil
}
