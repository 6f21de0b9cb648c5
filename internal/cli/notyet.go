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

// keylessSigningFlags are cosign's keyless signing flags (Fulcio, OIDC,
// hardware keys, timestamp authorities), pending Hallmark's own CA.
var keylessSigningFlags = []pendingFlag{
	stringFlag("identity-token", "keyless signing (an OIDC identity token)"),
	stringFlag("fulcio-url", "keyless signing (a Fulcio CA)"),
	stringFlag("oidc-issuer", "keyless signing (OIDC)"),
	stringFlag("oidc-client-id", "keyless signing (OIDC)"),
	stringFlag("oidc-client-secret-file", "keyless signing (OIDC)"),
	stringFlag("oidc-redirect-url", "keyless signing (OIDC)"),
	stringFlag("oidc-provider", "keyless signing (OIDC)"),
	boolFlag("oidc-disable-ambient-providers", "keyless signing (OIDC)"),
	boolFlag("issue-certificate", "keyless signing (a certificate for the key)"),
	boolFlag("insecure-skip-verify", "keyless signing (Fulcio)"),
	stringFlag("timestamp-server-url", "RFC 3161 timestamps at signing"),
	boolFlag("sk", "hardware security keys"),
	stringFlag("slot", "hardware security keys"),
}
