package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// Version, Commit and BuildDate may be set at build time with -ldflags
// -X; otherwise they come from the module's build information.
var (
	Version   = ""
	Commit    = ""
	BuildDate = ""
)

// versionInfo is cosign's `version` output (sigs.k8s.io/release-utils),
// field for field.
type versionInfo struct {
	GitVersion   string `json:"gitVersion"`
	GitCommit    string `json:"gitCommit"`
	GitTreeState string `json:"gitTreeState"`
	BuildDate    string `json:"buildDate"`
	GoVersion    string `json:"goVersion"`
	Compiler     string `json:"compiler"`
	Platform     string `json:"platform"`
}

func buildInfo() versionInfo {
	v := versionInfo{
		GitVersion: "devel", GitCommit: "unknown", GitTreeState: "unknown", BuildDate: "unknown",
		GoVersion: runtime.Version(), Compiler: runtime.Compiler, Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.GitVersion = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.GitCommit = s.Value
			case "vcs.modified":
				v.GitTreeState = map[string]string{"true": "dirty", "false": "clean"}[s.Value]
			case "vcs.time":
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					v.BuildDate = t.UTC().Format("2006-01-02T15:04:05")
				}
			}
		}
	}
	for _, o := range []struct {
		dst *string
		val string
	}{{&v.GitVersion, Version}, {&v.GitCommit, Commit}, {&v.BuildDate, BuildDate}} {
		if o.val != "" {
			*o.dst = o.val
		}
	}
	return v
}

func (a *app) versionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := buildInfo()
			if asJSON {
				b, err := json.MarshalIndent(v, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, string(b))
				return nil
			}
			var b strings.Builder
			fmt.Fprintf(&b, "hallmark: %s\n\n", cmd.Root().Short)
			w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
			for _, kv := range [][2]string{
				{"GitVersion:", v.GitVersion}, {"GitCommit:", v.GitCommit}, {"GitTreeState:", v.GitTreeState},
				{"BuildDate:", v.BuildDate}, {"GoVersion:", v.GoVersion}, {"Compiler:", v.Compiler}, {"Platform:", v.Platform},
			} {
				fmt.Fprintf(w, "%s\t%s\n", kv[0], kv[1])
			}
			w.Flush()
			fmt.Fprintln(a.stdout, b.String())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}
