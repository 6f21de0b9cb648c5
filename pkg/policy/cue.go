package policy

import (
	"context"
	"fmt"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/errors"
	cuejson "cuelang.org/go/encoding/json"
)

// cuePolicy is a compiled CUE policy: the statement must unify with it.
type cuePolicy struct {
	file  string
	value cue.Value
}

func compileCUE(file string, src []byte) (*cuePolicy, error) {
	v := cuecontext.New().CompileBytes(src, cue.Filename(file))
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("policy %s does not compile: %s", file, errors.Details(err, nil))
	}
	return &cuePolicy{file: file, value: v}, nil
}

func (p *cuePolicy) Name() string { return p.file }

func (p *cuePolicy) Evaluate(_ context.Context, statement []byte) error {
	if err := cuejson.Validate(statement, p.value); err != nil {
		return &Denial{File: p.file, Rule: "the statement unified with the policy", Messages: []string{errors.Details(err, nil)}}
	}
	return nil
}
