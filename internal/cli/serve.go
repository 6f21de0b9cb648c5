package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	logserver "hallmark.dev/hallmark/internal/server/log"
	"hallmark.dev/hallmark/internal/server/registry"
	"hallmark.dev/hallmark/internal/server/stack"
	"hallmark.dev/hallmark/pkg/ca"
	"hallmark.dev/hallmark/pkg/idp"
)

type serveOptions struct {
	data                                                       string
	registryAddr, rekorAddr, ctAddr, caAddr, oidcAddr, tsaAddr string
	identities                                                 []string
	caConfig                                                   string
	tokenTTL                                                   time.Duration
	ops                                                        opsFlags
}

func (a *app) serveCommand() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve --data DIR",
		Short: "Run the whole private keyless stack: registry, transparency log, CT log, CA, OIDC issuer and TSA",
		Long: `Run every Hallmark service in one process, each on its own loopback port:
an OCI registry, a Rekor-compatible transparency log (v1 and v2 APIs), a
certificate transparency log (TesseraCT), a Fulcio-compatible certificate
authority, an OIDC identity provider for development and CI, and an RFC 3161
timestamp authority.

Keys and certificates are created in DIR on first start and reused after. Each
start writes DIR/trusted-root.json, DIR/signing-config.json (Rekor v1 API),
DIR/signing-config-rekor-v2.json and DIR/services.json (every service's URL),
which hallmark and cosign take as --trusted-root and --signing-config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.serveAll(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "hallmark-data", "directory for every service's data, keys and the trust files")
	f.StringVar(&o.registryAddr, "registry-addr", "127.0.0.1:5000", "OCI registry address")
	f.StringVar(&o.rekorAddr, "rekor-addr", "127.0.0.1:3000", "transparency log (Rekor API) address")
	f.StringVar(&o.ctAddr, "ct-addr", "127.0.0.1:6962", "certificate transparency log address")
	f.StringVar(&o.caAddr, "ca-addr", "127.0.0.1:5555", "certificate authority (Fulcio API) address")
	f.StringVar(&o.oidcAddr, "oidc-addr", "127.0.0.1:5556", "OIDC identity provider address")
	f.StringVar(&o.tsaAddr, "tsa-addr", "127.0.0.1:3004", "timestamp authority address")
	f.StringSliceVar(&o.identities, "identity", []string{"dev@hallmark.local"}, "e-mail address the identity provider vouches for (repeatable)")
	f.StringVar(&o.caConfig, "ca-config", "", "Fulcio configuration (JSON or YAML) of the OIDC issuers the CA trusts (default: the built-in identity provider)")
	f.DurationVar(&o.tokenTTL, "token-ttl", 10*time.Minute, "lifetime of the identity provider's tokens")
	o.ops.add(cmd)
	return cmd
}

// parseIdentities reads --identity values: an e-mail address, optionally
// followed by ",Display Name".
func parseIdentities(vals []string) ([]idp.Identity, error) {
	var out []idp.Identity
	for _, v := range vals {
		email, name, _ := strings.Cut(v, ",")
		if !strings.Contains(email, "@") {
			return nil, fmt.Errorf("%w: --identity %q is not an e-mail address", errUsage, v)
		}
		out = append(out, idp.Identity{Email: strings.TrimSpace(email), Name: strings.TrimSpace(name)})
	}
	return out, nil
}

func (a *app) serveAll(ctx context.Context, o *serveOptions) error {
	tuneGC()
	logger, err := a.serverLogger(&o.ops)
	if err != nil {
		return err
	}
	identities, err := parseIdentities(o.identities)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return fmt.Errorf("--data %s: %w", o.data, err)
	}
	dir := func(name string) string { return filepath.Join(o.data, name) }
	lns := map[string]net.Listener{}
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for _, l := range []struct{ flag, addr string }{
		{"registry-addr", o.registryAddr}, {"rekor-addr", o.rekorAddr}, {"ct-addr", o.ctAddr},
		{"ca-addr", o.caAddr}, {"oidc-addr", o.oidcAddr}, {"tsa-addr", o.tsaAddr},
	} {
		ln, err := listen(l.flag, l.addr)
		if err != nil {
			return err
		}
		lns[l.flag] = ln
	}
	urls := stack.Services{
		Registry: urlOf(lns["registry-addr"]), Rekor: urlOf(lns["rekor-addr"]), CT: urlOf(lns["ct-addr"]),
		CA: urlOf(lns["ca-addr"]), OIDC: urlOf(lns["oidc-addr"]), TSA: urlOf(lns["tsa-addr"]) + "/api/v1/timestamp",
	}
	urls.OIDCGitHub = urls.OIDC + idp.GitHubPath

	reg, err := registry.Open(dir("registry"), nil)
	if err != nil {
		return fmt.Errorf("registry data %s: %w", dir("registry"), err)
	}
	defer reg.Close()

	if err := os.MkdirAll(dir("log"), 0o700); err != nil {
		return err
	}
	logKey, err := logserver.LoadOrCreateSigner(dir("log"), "", nil)
	if err != nil {
		return err
	}
	logStart, err := logserver.ValidFrom(dir("log"))
	if err != nil {
		return err
	}
	// The log on local disk answers appends from its journal, which hands
	// Tessera its rounds.
	logSvc, err := logserver.Open(ctx, logserver.Config{Dir: dir("log"), Signer: logKey, Origin: "hallmark.local/log",
		V2Origin: lns["rekor-addr"].Addr().(*net.TCPAddr).IP.String()})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = logSvc.Close(sctx)
	}()

	caChain, caKey, err := stack.CAChain(dir("ca"), "", "")
	if err != nil {
		return err
	}
	// The CT log takes the CA's issuing certificate as its root, and the CA
	// sends it the precertificate alone: one signature check per entry.
	ctLog, err := stack.OpenCT(ctx, dir("ct"), urls.CT, caChain[:1], 0, logger)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = ctLog.Log.Close(sctx)
	}()
	ctStart, err := stack.ValidFrom(dir("ct"))
	if err != nil {
		return err
	}
	oidc, err := stack.OpenOIDC(dir("oidc"), urls.OIDC, identities, o.tokenTTL, logger)
	if err != nil {
		return err
	}
	issuers, err := a.caIssuers(o.caConfig, oidc.Provider)
	if err != nil {
		return err
	}
	// The CA logs to the CT log in this process, without a network hop.
	caSvc, err := stack.OpenCA(caChain, caKey, issuers, ctLog.Log, 0, logger)
	if err != nil {
		return err
	}
	tsaSvc, err := stack.OpenTSA(dir("tsa"), "", "", logger)
	if err != nil {
		return err
	}
	if err := stack.WriteTrust(o.data, stack.Trust{
		Services: urls, LogKey: logKey.Public(), LogStart: logStart, CTKey: ctLog.Signer.Public(), CTStart: ctStart,
		CAChain: caChain, TSAChain: tsaSvc.Authority.Chain(),
	}); err != nil {
		return fmt.Errorf("writing the trust files: %w", err)
	}
	svcs := []service{
		{name: "registry", ln: lns["registry-addr"], handler: reg},
		{name: "rekor", ln: lns["rekor-addr"], handler: logserver.NewHandler(logSvc, 0, logger), ready: logSvc.Ready, collectors: logSvc.Collectors()},
		{name: "ct", ln: lns["ct-addr"], handler: ctLog.Handler, ready: ctLog.Log.Ready, collectors: ctLog.Log.Collectors()},
		{name: "ca", ln: lns["ca-addr"], handler: caSvc.Handler},
		{name: "oidc", ln: lns["oidc-addr"], handler: oidc.Handler},
		{name: "tsa", ln: lns["tsa-addr"], handler: tsaSvc.Handler},
	}
	a.infof("Hallmark serving (data in %s):", o.data)
	for _, l := range []struct{ name, url string }{
		{"registry", urls.Registry}, {"rekor", urls.Rekor}, {"ct", urls.CT}, {"ca", urls.CA},
		{"oidc", urls.OIDC}, {"oidc (GitHub Actions)", urls.OIDCGitHub}, {"tsa", urls.TSA},
	} {
		a.infof("  %-22s %s", l.name, l.url)
	}
	a.infof("Identities: %s (tokens: hallmark oidc token --data %s --email ADDRESS)", strings.Join(o.identities, ", "), o.data)
	a.infof("Trust it with --trusted-root %s; sign with --signing-config %s (or %s)",
		filepath.Join(o.data, stack.TrustedRootFile), filepath.Join(o.data, stack.SigningConfigFile), filepath.Join(o.data, stack.SigningConfigV2File))
	lns = nil // the services own their listeners now
	return a.runServices(ctx, &o.ops, logger, svcs)
}

// caIssuers is the CA's issuer configuration: a Fulcio config file, or the
// built-in identity provider's issuers.
func (a *app) caIssuers(configPath string, p *idp.Provider) (*ca.Config, error) {
	if configPath != "" {
		cfg, err := ca.ReadConfig(configPath)
		if err != nil {
			return nil, fmt.Errorf("--ca-config: %w", err)
		}
		return cfg, nil
	}
	return stack.IssuersFor(p)
}
