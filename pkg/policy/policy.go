package policy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Policy judges one statement (its JSON as signed).
type Policy interface {
	// Evaluate returns nil when the statement is allowed, a *Denial when
	// the policy says no, and any other error when it could not decide.
	Evaluate(ctx context.Context, statement []byte) error
	// Name is the file the policy came from.
	Name() string
}

// Denial is a policy's no.
type Denial struct {
	File     string
	Rule     string
	Messages []string
}

func (d *Denial) Error() string {
	s := fmt.Sprintf("policy %s denied the statement (%s)", d.File, d.Rule)
	for _, m := range d.Messages {
		s += ": " + m
	}
	return s
}

// Set is every policy given; a statement must satisfy all.
type Set []Policy

// Load compiles each file by its extension: .rego or .cue.
func Load(paths []string) (Set, error) {
	var out Set
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading policy: %w", err)
		}
		var pol Policy
		switch filepath.Ext(p) {
		case ".rego":
			pol, err = compileRego(p, src)
		case ".cue":
			pol, err = compileCUE(p, src)
		default:
			return nil, fmt.Errorf("policy %s: want a .rego or .cue file", p)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, pol)
	}
	return out, nil
}

// Compile compiles one policy from source: lang is "rego" (package and
// rule as rule says) or "cue"; name is how denials name it.
func Compile(name, lang string, src []byte, rule Rule) (Policy, error) {
	switch lang {
	case "rego":
		return compileRegoRule(name, src, rule)
	case "cue":
		return compileCUE(name, src)
	}
	return nil, fmt.Errorf("policy %s: type %q; want rego or cue", name, lang)
}

// Evaluate applies every policy; the errors of all that did not allow are
// joined.
func (s Set) Evaluate(ctx context.Context, statement []byte) error {
	var errs []error
	for _, p := range s {
		if err := p.Evaluate(ctx, statement); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
