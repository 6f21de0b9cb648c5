package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/logs"
	"github.com/spf13/cobra"
)

// app is what every command shares: its streams and environment, injected so
// tests can run commands in-process.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	lookupEnv      func(string) (string, bool)
	isTTY          func() bool

	global globalFlags
}

// globalFlags are cosign's persistent flags.
type globalFlags struct {
	verbose    bool
	timeout    time.Duration
	outputFile string
}

// Run executes the hallmark command line with args (without the program
// name) and returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{
		stdin: stdin, stdout: stdout, stderr: stderr,
		getenv: os.Getenv, lookupEnv: os.LookupEnv,
		isTTY: func() bool { return isTerminal(stdin) },
	}
	return a.run(ctx, args)
}

func (a *app) run(ctx context.Context, args []string) int {
	// Library loggers (go-containerregistry's, with -d) write from their own
	// goroutines, some of which outlive a request: stderr is shared under a
	// lock, and they are cut off when the command ends.
	a.stderr = lockedWriter{mu: &sync.Mutex{}, w: a.stderr}
	defer logs.Debug.SetOutput(io.Discard)
	root := a.rootCommand(args)
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	// cobra adds its help and completion commands as it executes; args are
	// looked up before that, and completion takes its output as it is added.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd(args...)
	usageArgs(root)
	var err error
	if _, _, ferr := root.Find(args); ferr != nil && !shellCompletion(args) {
		err = fmt.Errorf("%w: %v (see hallmark --help)", errUsage, ferr) // an unknown command
	} else {
		err = root.ExecuteContext(ctx)
	}
	if c, ok := a.stdout.(io.Closer); ok && a.global.outputFile != "" {
		if cerr := c.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("writing --output-file %s: %w", a.global.outputFile, cerr)
		}
	}
	if err == nil {
		return 0
	}
	if strings.HasPrefix(err.Error(), "required flag(s) ") { // cobra's, for a flag marked required
		err = fmt.Errorf("%w: %v", errUsage, err)
	}
	fmt.Fprintf(a.stderr, "Error: %v\n", err)
	return exitCode(err)
}

// rootCommand is the command tree for a run with args: the root and, when
// args start with a top-level command's name, only that command (and its
// subcommands). A run never needs its siblings, and building them all (their
// flags, first touches of their code) was a measurable part of a short
// command's start. Any other args (help, completion, a flag first, a typo)
// get the whole tree, for cobra's listings and suggestions.
func (a *app) rootCommand(args []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "hallmark",
		Short:         "Sign and verify container images and blobs (cosign-compatible)",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.global.verbose {
				logs.Debug.SetOutput(a.stderr)
			}
			if a.global.outputFile != "" {
				f, err := os.Create(a.global.outputFile)
				if err != nil {
					return fmt.Errorf("creating --output-file %s: %w", a.global.outputFile, err)
				}
				a.stdout = f
				cmd.SetOut(f)
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.BoolVarP(&a.global.verbose, "verbose", "d", false, "log registry requests and answers (debug output) on stderr")
	pf.DurationVarP(&a.global.timeout, "timeout", "t", defaultTimeout, "give up on a command's network work after this long (0: never)")
	pf.StringVar(&a.global.outputFile, "output-file", "", "write what would go to standard output to this file instead")
	// Bad flags and argument counts are usage errors (exit 2), as the
	// README says; cobra would make them plain errors.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("%w: %v", errUsage, err) })
	top := a.topCommands()
	if len(args) > 0 {
		if build, ok := top[args[0]]; ok {
			root.AddCommand(build())
			return root
		}
	}
	for _, build := range top {
		root.AddCommand(build())
	}
	return root
}

// topCommands are the top-level commands by name, each built on demand.
func (a *app) topCommands() map[string]func() *cobra.Command {
	return map[string]func() *cobra.Command{
		"generate-key-pair":       a.generateKeyPairCommand,
		"import-key-pair":         a.importKeyPairCommand,
		"public-key":              a.publicKeyCommand,
		"sign":                    a.signCommand,
		"verify":                  a.verifyCommand,
		"sign-blob":               a.signBlobCommand,
		"verify-blob":             a.verifyBlobCommand,
		"attest":                  a.attestCommand,
		"verify-attestation":      a.verifyAttestationCommand,
		"attest-blob":             a.attestBlobCommand,
		"verify-blob-attestation": a.verifyBlobAttestationCommand,
		"download":                a.downloadCommand,
		"tree":                    a.treeCommand,
		"provenance":              a.provenanceCommand,
		"admission":               a.admissionCommand,
		"policy":                  a.policyCommand,
		"registry":                a.registryCommand,
		"log":                     a.logCommand,
		"serve":                   a.serveCommand,
		"oidc":                    a.oidcCommand,
		"ca":                      a.caCommand,
		"ct":                      a.ctCommand,
		"tsa":                     a.tsaCommand,
		"trusted-root":            a.trustedRootCommand,
		"signing-config":          a.signingConfigCommand,
		"quickstart":              a.quickstartCommand,
		"version":                 a.versionCommand,
	}
}

// shellCompletion reports a completion script's request (hallmark
// __complete ARGS), which cobra answers itself: it is no command to look up.
func shellCompletion(args []string) bool {
	return len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd)
}

// usageArgs makes every command's argument-count errors usage errors, and
// gives every group command (one with subcommands and nothing to run) an
// error for a subcommand it does not have: cobra would print the group's
// help and exit 0 (`download sbom IMG > sbom.json` "succeeding").
func usageArgs(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() && c.HasParent() {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q", args[0])
			}
			return nil
		}
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
	if v := c.Args; v != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := v(cmd, args); err != nil {
				return fmt.Errorf("%w: %s: %v", errUsage, cmd.CommandPath(), err)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

// withTimeout bounds a command's network work by --timeout (cosign's 3m).
func (a *app) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.global.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, a.global.timeout)
}
func (a *app) infof(format string, args ...any) {
	fmt.Fprintf(a.stderr, format+"\n", args...)
}

var errUsage = errors.New("usage")
