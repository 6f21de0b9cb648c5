package cli

import (
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/attest"
)

func (a *app) provenanceCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "provenance [--out FILE]",
		Short: "Write a SLSA v1 provenance predicate for the current build, for attest --type slsaprovenance1",
		Long: `Write a SLSA v1 provenance predicate for the build running now. In GitHub Actions it
records the workflow (builder id = the workflow ref), the source repository and commit,
the trigger and the run; elsewhere a local build in this directory at its git commit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _ := os.Hostname()
			dir, _ := os.Getwd()
			url, commit := gitOutput("remote", "get-url", "origin"), gitOutput("rev-parse", "HEAD")
			b, err := attest.Provenance(a.getenv, host, dir, url, commit, time.Now())
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = a.stdout.Write(append(b, '\n'))
				return err
			}
			if err := writeFileMode(out, append(b, '\n'), 0o644, true); err != nil {
				return err
			}
			a.infof("Wrote SLSA v1 provenance to %s", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the predicate to this file (default: standard output)")
	return cmd
}

// gitOutput runs git in the current directory; "" when it cannot.
func gitOutput(args ...string) string {
	b, err := exec.Command("git", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
