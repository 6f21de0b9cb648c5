package cli

import "github.com/spf13/cobra"

func (a *app) logClientCommands() []*cobra.Command { return nil }
