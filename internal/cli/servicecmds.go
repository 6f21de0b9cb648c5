package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/internal/server/stack"
	"hallmark.dev/hallmark/pkg/ca"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/pki"
)

func (a *app) caCommand() *cobra.Command {
	var (
		addr, data, config, chainPath, keyPath, ctURL, ctKey string
		issuers                                              []string
		ctChain                                              bool
		ops                                                  opsFlags
	)
	serve := &cobra.Command{
		Use:   "serve --addr HOST:PORT --data DIR (--config FULCIO-CONFIG | --oidc-issuer URL)",
		Short: "Serve a Fulcio-compatible certificate authority (REST API v2 and v1)",
		Long: `Serve a code-signing certificate authority speaking Fulcio's REST API.

Issuers are trusted as Fulcio's configuration file says (--config, JSON or YAML:
oidc-issuers, meta-issuers with * wildcards, ci-issuer-metadata); --oidc-issuer
is the short form for e-mail issuers with client ID "sigstore". The CA's root
and intermediate are created in DIR on first start (DIR/chain.pem) unless given
with --ca-chain and --ca-key. With --ct-url and --ct-public-key every
certificate carries an SCT from that CT log (RFC 6962 add-pre-chain).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := a.serverLogger(&ops)
			if err != nil {
				return err
			}
			cfg, err := issuerConfig(config, issuers)
			if err != nil {
				return err
			}
			if (ctURL == "") != (ctKey == "") {
				return fmt.Errorf("%w: --ct-url and --ct-public-key go together", errUsage)
			}
			chain, key, err := stack.CAChain(data, chainPath, keyPath)
			if err != nil {
				return err
			}
			var ctLog ca.CTLog
			if ctURL != "" {
				pemKey, err := os.ReadFile(ctKey)
				if err != nil {
					return fmt.Errorf("--ct-public-key: %w", err)
				}
				pub, err := keys.ParsePublicKey(pemKey)
				if err != nil {
					return fmt.Errorf("--ct-public-key %s: %w", ctKey, err)
				}
				if ctLog, err = ca.NewCTClient(ctURL, pub, nil); err != nil {
					return err
				}
			}
			ctIssuers := -1
			if !ctChain {
				ctIssuers = 0
			}
			c, err := stack.OpenCA(chain, key, cfg, ctLog, ctIssuers, logger)
			if err != nil {
				return err
			}
			ln, err := listen("addr", addr)
			if err != nil {
				return err
			}
			a.infof("Certificate authority serving %s (chain in %s; %d issuer(s) trusted)", urlOf(ln), chainFile(data, chainPath), len(cfg.OIDCIssuers)+len(cfg.MetaIssuers))
			if ctLog == nil {
				a.infof("No CT log (--ct-url): certificates carry no SCT, so verifiers need --insecure-ignore-sct")
			}
			return a.runServices(cmd.Context(), &ops, logger, []service{{name: "ca", ln: ln, handler: c.Handler}})
		},
	}
	f := serve.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:5555", "address to listen on")
	f.StringVar(&data, "data", "hallmark-ca", "directory for the CA's keys and chain")
	f.StringVar(&config, "config", "", "Fulcio configuration file (JSON or YAML) of the trusted OIDC issuers")
	f.StringSliceVar(&issuers, "oidc-issuer", nil, "trust this OIDC issuer for e-mail identities, audience sigstore (repeatable)")
	f.StringVar(&chainPath, "ca-chain", "", "PEM chain of the CA (issuing certificate first, root last) instead of DIR's")
	f.StringVar(&keyPath, "ca-key", "", "PEM private key of --ca-chain's first certificate")
	f.StringVar(&ctURL, "ct-url", "", "CT log to get an SCT from for each certificate")
	f.StringVar(&ctKey, "ct-public-key", "", "PEM public key of --ct-url, to check its SCTs")
	f.BoolVar(&ctChain, "ct-submit-chain", true, "send the CA's chain after each precertificate (false: the CT log has the issuing certificate as a root, and gets the precertificate alone)")
	ops.add(serve)
	serve.MarkFlagsRequiredTogether("ca-chain", "ca-key")
	cmd := &cobra.Command{Use: "ca", Short: "Run the certificate authority"}
	cmd.AddCommand(serve)
	return cmd
}

func chainFile(data, given string) string {
	if given != "" {
		return given
	}
	return filepath.Join(data, pki.ChainFile)
}

// issuerConfig reads --config, or builds a configuration from --oidc-issuer.
func issuerConfig(path string, issuers []string) (*ca.Config, error) {
	switch {
	case path != "" && len(issuers) > 0:
		return nil, fmt.Errorf("%w: give --config or --oidc-issuer, not both", errUsage)
	case path != "":
		cfg, err := ca.ReadConfig(path)
		if err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
		return cfg, nil
	case len(issuers) == 0:
		return nil, fmt.Errorf("%w: no OIDC issuer is trusted: give --config (Fulcio's format) or --oidc-issuer URL", errUsage)
	}
	cfg := &ca.Config{OIDCIssuers: map[string]ca.Issuer{}}
	for _, u := range issuers {
		cfg.OIDCIssuers[u] = ca.Issuer{IssuerURL: u, ClientID: stack.PublicClient, Type: ca.TypeEmail}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	c, err := ca.ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("--oidc-issuer: %w", err)
	}
	return c, nil
}

func (a *app) ctCommand() *cobra.Command {
	var (
		addr, data, roots, publicURL string
		batchMaxAge                  time.Duration
		ops                          opsFlags
	)
	serve := &cobra.Command{
		Use:   "serve --addr HOST:PORT --data DIR --roots CA-ROOTS.pem",
		Short: "Serve a certificate transparency log (TesseraCT: RFC 6962 submission, static-ct-api reads)",
		Long: `Serve a CT log for the CA's precertificates: transparency-dev's TesseraCT on
Tessera's POSIX storage in DIR. Chains must end in one of --roots. The log's
public key is written to DIR/public.pem for the CA (--ct-public-key) and for
trusted roots (hallmark trusted-root create --ctfe).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := a.serverLogger(&ops)
			if err != nil {
				return err
			}
			if roots == "" {
				return fmt.Errorf("%w: --roots is required (the CA's root certificate, PEM)", errUsage)
			}
			rootCerts, err := pki.ReadCertificates(roots)
			if err != nil {
				return fmt.Errorf("--roots: %w", err)
			}
			ln, err := listen("addr", addr)
			if err != nil {
				return err
			}
			u := publicURL
			if u == "" {
				u = urlOf(ln)
			}
			l, err := stack.OpenCT(cmd.Context(), data, u, rootCerts, batchMaxAge, logger)
			if err != nil {
				ln.Close()
				return err
			}
			defer func() {
				// Past SIGTERM: the journal hands Tessera what it acknowledged.
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = l.Log.Close(sctx)
			}()
			pub, err := keys.MarshalPublicKey(l.Signer.Public())
			if err != nil {
				return err
			}
			if err := pki.WriteFileAtomic(filepath.Join(data, "public.pem"), pub, 0o644); err != nil {
				return err
			}
			id := l.Log.LogID()
			a.infof("CT log serving %s (log ID %s, key %s)", u, hex.EncodeToString(id[:]), filepath.Join(data, "public.pem"))
			return a.runServices(cmd.Context(), &ops, logger, []service{{name: "ct", ln: ln, handler: l.Handler, ready: l.Log.Ready, collectors: l.Log.Collectors()}})
		},
	}
	f := serve.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:6962", "address to listen on")
	f.StringVar(&data, "data", "hallmark-ct", "directory for the log and its key")
	f.StringVar(&roots, "roots", "", "PEM file of the root certificates accepted chains end in")
	f.StringVar(&publicURL, "public-url", "", "URL clients reach the log at (default http://ADDR)")
	f.DurationVar(&batchMaxAge, "batch-max-age", 0, "how long Tessera holds a batch of journaled entries open (at least and by default 1s, so that each round is one batch); SCTs do not wait for it, only for the journal's synced append")
	ops.add(serve)
	cmd := &cobra.Command{Use: "ct", Short: "Run the certificate transparency log"}
	cmd.AddCommand(serve)
	return cmd
}

func (a *app) tsaCommand() *cobra.Command {
	var (
		addr, data, chainPath, keyPath string
		ops                            opsFlags
	)
	serve := &cobra.Command{
		Use:   "serve --addr HOST:PORT --data DIR",
		Short: "Serve an RFC 3161 timestamp authority (sigstore timestamp-authority's API)",
		Long: `Serve a timestamp authority: POST /api/v1/timestamp (DER or JSON requests) and
GET /api/v1/timestamp/certchain. Its signing certificate (critical
time-stamping EKU) and root are created in DIR on first start (DIR/chain.pem)
unless given with --certificate-chain and --key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := a.serverLogger(&ops)
			if err != nil {
				return err
			}
			t, err := stack.OpenTSA(data, chainPath, keyPath, logger)
			if err != nil {
				return err
			}
			ln, err := listen("addr", addr)
			if err != nil {
				return err
			}
			a.infof("Timestamp authority serving %s/api/v1/timestamp (chain in %s, policy %s)", urlOf(ln), chainFile(data, chainPath), t.Authority.Policy())
			return a.runServices(cmd.Context(), &ops, logger, []service{{name: "tsa", ln: ln, handler: t.Handler}})
		},
	}
	f := serve.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:3004", "address to listen on")
	f.StringVar(&data, "data", "hallmark-tsa", "directory for the TSA's key and chain")
	f.StringVar(&chainPath, "certificate-chain", "", "PEM chain (signing certificate first, root last) instead of DIR's")
	f.StringVar(&keyPath, "key", "", "PEM private key of --certificate-chain's first certificate")
	ops.add(serve)
	serve.MarkFlagsRequiredTogether("certificate-chain", "key")
	cmd := &cobra.Command{Use: "tsa", Short: "Run the timestamp authority"}
	cmd.AddCommand(serve)
	return cmd
}
