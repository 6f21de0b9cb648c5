package cli

import (
	"context"

	"hallmark.dev/hallmark/pkg/policy"
)

// statementPolicy judges a verified statement.
type statementPolicy interface {
	Evaluate(ctx context.Context, statement []byte) error
}

// loadPolicies compiles the --policy files once for the run; nil when there
// are none.
func (a *app) loadPolicies(paths []string) (statementPolicy, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	set, err := policy.Load(paths)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	a.infof("will be validating against policies: %v", paths)
	return set, nil
}
