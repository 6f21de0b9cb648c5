package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// pendingFlag is a cosign flag for a feature Hallmark does not have yet. It
// is accepted by the parser (hidden from help) so that using it says what is
// missing, rather than "unknown flag".
type pendingFlag struct {
	name, feature string
	boolean       bool
}

func stringFlag(name, feature string) pendingFlag { return pendingFlag{name: name, feature: feature} }
func boolFlag(name, feature string) pendingFlag {
	return pendingFlag{name: name, feature: feature, boolean: true}
}

// notYet registers pending flags on cmd and refuses them when set.
func notYet(cmd *cobra.Command, flags ...pendingFlag) {
	for _, p := range flags {
		if p.boolean {
			cmd.Flags().Bool(p.name, false, "not supported yet")
		} else {
			cmd.Flags().String(p.name, "", "not supported yet")
		}
		_ = cmd.Flags().MarkHidden(p.name)
	}
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		for _, p := range flags {
			if c.Flags().Changed(p.name) {
				return fmt.Errorf("%w: --%s: %s is not supported yet", errUsage, p.name, p.feature)
			}
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// hardwareKeyFlags are cosign's flags for hardware security keys, which
// Hallmark does not support yet.
var hardwareKeyFlags = []pendingFlag{
	boolFlag("sk", "hardware security keys"),
	stringFlag("slot", "hardware security keys"),
}
