package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(a.stderr, "Error: %v\n", err)
	return exitCode(err)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "hallmark",
		Short:         "Sign and verify container images and blobs (cosign-compatible)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		a.generateKeyPairCommand(),
		a.importKeyPairCommand(),
		a.publicKeyCommand(),
		a.signCommand(),
		a.verifyCommand(),
		a.signBlobCommand(),
		a.verifyBlobCommand(),
		a.registryCommand(),
		a.logCommand(),
		a.quickstartCommand(),
		a.versionCommand(),
	)
	return root
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(a.stdout, "hallmark", Version)
			return nil
		},
	}
}

// Version is set at build time with -ldflags.
var Version = "devel"

func (a *app) infof(format string, args ...any) {
	fmt.Fprintf(a.stderr, format+"\n", args...)
}

var errUsage = errors.New("usage")
