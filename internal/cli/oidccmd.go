package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/internal/server/stack"
	"hallmark.dev/hallmark/pkg/idp"
)

func (a *app) oidcCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "oidc", Short: "Run and use the OIDC identity provider for development, CI and air-gapped sites"}
	cmd.AddCommand(a.oidcServeCommand(), a.oidcTokenCommand(), a.oidcActionsEnvCommand())
	return cmd
}

func (a *app) oidcServeCommand() *cobra.Command {
	var (
		addr, data, publicURL string
		identities            []string
		ttl                   time.Duration
		ops                   opsFlags
	)
	cmd := &cobra.Command{
		Use:   "serve --addr HOST:PORT --data DIR",
		Short: "Serve an OIDC identity provider (discovery, keys, token, device and consent pages, GitHub Actions tokens)",
		Long: `Serve an OpenID Connect identity provider for the configured identities.

Grants: client credentials (client "hallmark", its secret in DIR/client-secret),
device authorization (RFC 8628) and authorization code + PKCE with a consent
page (public client "sigstore", as cosign signs in). Under /github it is a
second issuer of GitHub-Actions-shaped workflow tokens, handed out through the
Actions token-request protocol (see hallmark oidc actions-env).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := a.serverLogger(&ops)
			if err != nil {
				return err
			}
			ids, err := parseIdentities(identities)
			if err != nil {
				return err
			}
			ln, err := listen("addr", addr)
			if err != nil {
				return err
			}
			issuer := publicURL
			if issuer == "" {
				issuer = urlOf(ln)
			}
			p, err := stack.OpenOIDC(data, strings.TrimSuffix(issuer, "/"), ids, ttl, logger)
			if err != nil {
				ln.Close()
				return err
			}
			a.infof("OIDC identity provider serving %s (workflow tokens: %s), data in %s", p.Provider.Issuer(), p.Provider.GitHubIssuer(), data)
			a.infof("Tokens: hallmark oidc token --issuer %s --client-secret-file %s --email ADDRESS", p.Provider.Issuer(), filepath.Join(data, "client-secret"))
			return a.runServices(cmd.Context(), &ops, logger, []service{{name: "oidc", ln: ln, handler: p.Handler}})
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:5556", "address to listen on")
	f.StringVar(&data, "data", "hallmark-oidc", "directory for the signing key and client secret")
	f.StringVar(&publicURL, "public-url", "", "issuer URL clients reach the provider at (default http://ADDR)")
	f.StringSliceVar(&identities, "identity", []string{"dev@hallmark.local"}, "e-mail address the provider vouches for, optionally ADDRESS,Display Name (repeatable)")
	f.DurationVar(&ttl, "token-ttl", 10*time.Minute, "lifetime of tokens")
	ops.add(cmd)
	return cmd
}

// providerFlags locate an identity provider and its confidential client.
type providerFlags struct {
	data, issuer, clientID, clientSecret, clientSecretFile string
}

func (f *providerFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.data, "data", "", "data directory of hallmark serve (or of oidc serve): the issuer URL and client secret are read from it")
	fs.StringVar(&f.issuer, "issuer", "", "the identity provider's URL")
	fs.StringVar(&f.clientID, "client-id", stack.ConfidentialClient, "confidential client ID")
	fs.StringVar(&f.clientSecret, "client-secret", "", "client secret")
	fs.StringVar(&f.clientSecretFile, "client-secret-file", "", "file holding the client secret")
}

// client resolves the flags to an API client.
func (f *providerFlags) client() (*idp.APIClient, error) {
	c := &idp.APIClient{Issuer: strings.TrimSuffix(f.issuer, "/"), ClientID: f.clientID, ClientSecret: f.clientSecret}
	if f.clientSecretFile != "" {
		b, err := os.ReadFile(f.clientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("--client-secret-file: %w", err)
		}
		c.ClientSecret = strings.TrimSpace(string(b))
	}
	if f.data != "" {
		secretDir := filepath.Join(f.data, "oidc") // hallmark serve's layout
		if s, err := stack.ReadServices(f.data); err == nil {
			if c.Issuer == "" {
				c.Issuer = s.OIDC
			}
		} else if errors.Is(err, fs.ErrNotExist) {
			secretDir = f.data // oidc serve's layout
		} else {
			return nil, err
		}
		if c.ClientSecret == "" {
			s, err := stack.ReadClientSecret(secretDir)
			if err != nil {
				return nil, fmt.Errorf("--data %s: reading the client secret: %w", f.data, err)
			}
			c.ClientSecret = s
		}
	}
	if c.Issuer == "" {
		return nil, fmt.Errorf("%w: give --issuer URL (or --data DIR of hallmark serve)", errUsage)
	}
	if c.ClientSecret == "" {
		return nil, fmt.Errorf("%w: give --client-secret-file (or --data DIR)", errUsage)
	}
	return c, nil
}

// workflowFlags describe a GitHub Actions job.
type workflowFlags struct{ w idp.Workflow }

func (f *workflowFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.w.Repository, "github-repository", "", "a workflow token for this repository (owner/name)")
	fs.StringVar(&f.w.WorkflowPath, "github-workflow", "", "workflow file (default .github/workflows/release.yml)")
	fs.StringVar(&f.w.Ref, "github-ref", "", "git ref (default refs/heads/main)")
	fs.StringVar(&f.w.SHA, "github-sha", "", "commit (40 hex digits; default derived from repository and ref)")
	fs.StringVar(&f.w.EventName, "github-event", "", "triggering event (default push)")
	fs.StringVar(&f.w.Environment, "github-environment", "", "deployment environment of the job")
	fs.StringVar(&f.w.RunnerEnvironment, "github-runner-environment", "", "github-hosted (default) or self-hosted")
	fs.StringVar(&f.w.Visibility, "github-repository-visibility", "", "public (default), private or internal")
	fs.StringVar(&f.w.JobWorkflowRef, "github-job-workflow-ref", "", "reusable workflow running the job (owner/name/.github/workflows/F.yml@REF)")
	fs.StringVar(&f.w.Actor, "github-actor", "", "user who started the run (default: the owner)")
}

func (a *app) oidcTokenCommand() *cobra.Command {
	var (
		pf       providerFlags
		wf       workflowFlags
		email    string
		audience string
		out      string
	)
	cmd := &cobra.Command{
		Use:   "token (--data DIR | --issuer URL --client-secret-file F) [--email ADDRESS | --github-repository OWNER/NAME ...]",
		Short: "Print an identity token from the Hallmark identity provider",
		Long: `Print an ID token for a configured identity (--email; default the first), or a
GitHub-Actions-shaped workflow token (--github-repository and the --github-*
flags), issued by a Hallmark identity provider. Pass it to sign with
--identity-token or SIGSTORE_ID_TOKEN.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if email != "" && wf.w.Repository != "" {
				return fmt.Errorf("%w: --email and --github-repository ask for different tokens: give one", errUsage)
			}
			c, err := pf.client()
			if err != nil {
				return err
			}
			ctx, cancel := a.withTimeout(cmd.Context())
			defer cancel()
			var tok string
			if wf.w.Repository != "" {
				tok, err = c.WorkflowToken(ctx, wf.w, audience)
			} else {
				tok, err = c.EmailToken(ctx, email, audience)
			}
			if err != nil {
				return err
			}
			return a.writeToken(out, tok)
		},
	}
	pf.add(cmd)
	wf.add(cmd)
	cmd.Flags().StringVar(&email, "email", "", "identity to get a token for (a configured e-mail address)")
	cmd.Flags().StringVar(&audience, "audience", "sigstore", "audience of the token")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the token to this file (no trailing newline, as cosign reads token files)")
	return cmd
}

// writeToken prints a token: to a file without a newline, on a terminal
// with one, and on a pipe without (so $(...) and > file both work).
func (a *app) writeToken(out, tok string) error {
	if out != "" {
		if err := os.WriteFile(out, []byte(tok), 0o600); err != nil {
			return err
		}
		a.infof("Wrote the token to %s", out)
		return nil
	}
	if isTerminal(a.stdout) {
		tok += "\n"
	}
	_, err := fmt.Fprint(a.stdout, tok)
	return err
}

func (a *app) oidcActionsEnvCommand() *cobra.Command {
	var (
		pf providerFlags
		wf workflowFlags
	)
	cmd := &cobra.Command{
		Use:   "actions-env (--data DIR | --issuer URL --client-secret-file F) --github-repository OWNER/NAME [--github-* ...]",
		Short: "Register a GitHub-Actions-style run and print its ACTIONS_ID_TOKEN_REQUEST_* variables",
		Long: `Register a workflow run with a Hallmark identity provider and print the two
variables a GitHub Actions job with "permissions: id-token: write" has, as
export lines: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN, and the
GITHUB_* variables a runner sets for that run (repository, workflow ref, sha, ...).
With them set, hallmark sign and cosign sign pick up the run's token as they do
on GitHub:

  eval "$(hallmark oidc actions-env --data DIR --github-repository org/repo)"
  hallmark sign IMAGE --signing-config DIR/signing-config.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if wf.w.Repository == "" {
				return fmt.Errorf("%w: --github-repository is required", errUsage)
			}
			c, err := pf.client()
			if err != nil {
				return err
			}
			ctx, cancel := a.withTimeout(cmd.Context())
			defer cancel()
			u, tok, err := c.RegisterRun(ctx, wf.w)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "export ACTIONS_ID_TOKEN_REQUEST_URL='%s'\nexport ACTIONS_ID_TOKEN_REQUEST_TOKEN='%s'\n", u, tok)
			// The variables a runner sets for the same run, so that what reads
			// them (hallmark provenance) agrees with the token's claims.
			_, claims, err := wf.w.Claims()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "export GITHUB_ACTIONS='true'\nexport GITHUB_SERVER_URL='https://github.com'\n")
			for _, v := range [][2]string{{"GITHUB_REPOSITORY", "repository"}, {"GITHUB_WORKFLOW_REF", "workflow_ref"}, {"GITHUB_SHA", "sha"},
				{"GITHUB_REF", "ref"}, {"GITHUB_EVENT_NAME", "event_name"}, {"GITHUB_RUN_ID", "run_id"}, {"GITHUB_RUN_ATTEMPT", "run_attempt"},
				{"GITHUB_REPOSITORY_ID", "repository_id"}, {"GITHUB_REPOSITORY_OWNER_ID", "repository_owner_id"}, {"RUNNER_ENVIRONMENT", "runner_environment"}} {
				if c, ok := claims[v[1]].(string); ok && c != "" {
					fmt.Fprintf(a.stdout, "export %s='%s'\n", v[0], c)
				}
			}
			return nil
		},
	}
	pf.add(cmd)
	wf.add(cmd)
	return cmd
}
