package cli

import (
	"context"
	"fmt"
)

// statementPolicy judges a verified statement.
type statementPolicy interface {
	Evaluate(ctx context.Context, statement []byte) error
}

// loadPolicies reads --policy files; nil when there are none.
func (a *app) loadPolicies(paths []string) (statementPolicy, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	return nil, fmt.Errorf("%w: --policy is not supported yet", errUsage)
}
