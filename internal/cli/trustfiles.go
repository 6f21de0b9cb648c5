package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/pki"
	"hallmark.dev/hallmark/pkg/tlog"
)

// spec is one service specification: comma-separated key=value pairs, as
// cosign's --fulcio/--rekor/--ctfe/--tsa flags take them.
type spec map[string]string

func parseSpec(flag, s string, required, optional []string) (spec, error) {
	out := spec{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: --%s %q: want comma-separated key=value pairs", errUsage, flag, s)
		}
		known := false
		for _, n := range append(append([]string{}, required...), optional...) {
			known = known || n == k
		}
		if !known {
			return nil, fmt.Errorf("%w: --%s: unknown key %q (keys: %s)", errUsage, flag, k, strings.Join(append(append([]string{}, required...), optional...), ", "))
		}
		out[k] = v
	}
	for _, k := range required {
		if out[k] == "" {
			return nil, fmt.Errorf("%w: --%s: missing required key '%s' in service spec", errUsage, flag, k)
		}
	}
	return out, nil
}

func (s spec) time(flag, key string) (time.Time, error) {
	v := s[key]
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: --%s: %s %q is not an RFC 3339 time", errUsage, flag, key, v)
	}
	return t, nil
}

func (s spec) window(flag string, defStart time.Time) (cosign.Window, error) {
	start, err := s.time(flag, "start-time")
	if err != nil {
		return cosign.Window{}, err
	}
	end, err := s.time(flag, "end-time")
	if err != nil {
		return cosign.Window{}, err
	}
	if start.IsZero() {
		start = defStart
	}
	if !end.IsZero() && !end.After(start) {
		return cosign.Window{}, fmt.Errorf("%w: --%s: end-time %s is not after start-time %s", errUsage, flag, end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	return cosign.Window{Start: start, End: end}, nil
}

func (a *app) trustedRootCommand() *cobra.Command {
	var (
		fulcio, ctfe, rekor, tsa []string
		out                      string
		withDefaults             bool
		old                      struct{ certChain, fulcioURI, ctfeKey, ctfeStart, ctfeEnd, ctfeURL, rekorKey, rekorStart, rekorEnd, rekorURL, tsaChain, tsaURI string }
	)
	create := &cobra.Command{
		Use:   "create [--fulcio SPEC]... [--ctfe SPEC]... [--rekor SPEC]... [--tsa SPEC]... [--out FILE]",
		Short: "Create a Sigstore trusted root for your own CA, CT logs, transparency logs and TSAs",
		Long: `Create a trusted root (application/vnd.dev.sigstore.trustedroot+json;version=0.1)
as cosign trusted-root create does. Each flag is repeatable and takes
comma-separated key=value pairs:

  --fulcio url=URL,certificate-chain=PEM[,start-time=T][,end-time=T]
  --ctfe   url=URL,public-key=PEM,start-time=T[,end-time=T]
  --rekor  url=URL,public-key=PEM,start-time=T[,end-time=T][,origin=O]
  --tsa    url=URL,certificate-chain=PEM[,start-time=T][,end-time=T]

Chains list the issuing (or signing) certificate first and the root last; a CA
is trusted from its root's notBefore and a TSA from its leaf's unless
start-time says otherwise. A Rekor v2 log with an Ed25519 key names its
checkpoint origin (origin=). Times are RFC 3339.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if withDefaults {
				return fmt.Errorf("%w: --with-default-services needs the public-good TUF repository, and Hallmark fetches nothing: give the services with --fulcio, --ctfe, --rekor and --tsa", errUsage)
			}
			if old.certChain != "" {
				fulcio = append(fulcio, "url="+old.fulcioURI+",certificate-chain="+old.certChain)
			}
			if old.ctfeKey != "" {
				ctfe = append(ctfe, joinSpec("url", old.ctfeURL, "public-key", old.ctfeKey, "start-time", orEpoch(old.ctfeStart), "end-time", old.ctfeEnd))
			}
			if old.rekorKey != "" {
				key, origin, _ := strings.Cut(old.rekorKey, ",")
				rekor = append(rekor, joinSpec("url", old.rekorURL, "public-key", key, "start-time", orEpoch(old.rekorStart), "end-time", old.rekorEnd, "origin", origin))
			}
			if old.tsaChain != "" {
				tsa = append(tsa, "url="+old.tsaURI+",certificate-chain="+old.tsaChain)
			}
			tr, err := buildTrustedRoot(fulcio, ctfe, rekor, tsa)
			if err != nil {
				return err
			}
			return a.writeTrustFile(out, tr)
		},
	}
	f := create.Flags()
	f.StringArrayVar(&fulcio, "fulcio", nil, "certificate authority: url=URL,certificate-chain=PEM[,start-time=T][,end-time=T]")
	f.StringArrayVar(&ctfe, "ctfe", nil, "CT log: url=URL,public-key=PEM,start-time=T[,end-time=T]")
	f.StringArrayVar(&rekor, "rekor", nil, "transparency log: url=URL,public-key=PEM,start-time=T[,end-time=T][,origin=O]")
	f.StringArrayVar(&tsa, "tsa", nil, "timestamp authority: url=URL,certificate-chain=PEM[,start-time=T][,end-time=T]")
	f.StringVar(&out, "out", "", "write the trusted root to this file (default: standard output)")
	f.BoolVar(&withDefaults, "with-default-services", false, "start from the public-good services (needs TUF: not supported offline)")
	for _, n := range []string{"no-default-fulcio", "no-default-ctfe", "no-default-tsa", "no-default-rekor"} {
		f.Bool(n, false, "with --with-default-services, leave out that default")
	}
	for _, d := range []struct {
		p          *string
		name, help string
	}{
		{&old.certChain, "certificate-chain", "--fulcio's certificate-chain"}, {&old.fulcioURI, "fulcio-uri", "--fulcio's url"},
		{&old.ctfeKey, "ctfe-key", "--ctfe's public-key"}, {&old.ctfeStart, "ctfe-start-time", "--ctfe's start-time"},
		{&old.ctfeEnd, "ctfe-end-time", "--ctfe's end-time"}, {&old.ctfeURL, "ctfe-url", "--ctfe's url"},
		{&old.rekorKey, "rekor-key", "--rekor's public-key[,origin]"}, {&old.rekorStart, "rekor-start-time", "--rekor's start-time"},
		{&old.rekorEnd, "rekor-end-time", "--rekor's end-time"}, {&old.rekorURL, "rekor-url", "--rekor's url"},
		{&old.tsaChain, "timestamp-certificate-chain", "--tsa's certificate-chain"}, {&old.tsaURI, "timestamp-uri", "--tsa's url"},
	} {
		f.StringVar(d.p, d.name, "", "deprecated: "+d.help)
		_ = f.MarkHidden(d.name)
	}
	for _, pair := range [][2]string{{"certificate-chain", "fulcio"}, {"ctfe-key", "ctfe"}, {"rekor-key", "rekor"}, {"timestamp-certificate-chain", "tsa"}} {
		create.MarkFlagsMutuallyExclusive(pair[0], pair[1])
	}
	cmd := &cobra.Command{Use: "trusted-root", Short: "Create Sigstore trusted roots"}
	cmd.AddCommand(create)
	return cmd
}

func joinSpec(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			parts = append(parts, kv[i]+"="+kv[i+1])
		}
	}
	return strings.Join(parts, ",")
}

func orEpoch(t string) string {
	if t == "" {
		return time.Unix(0, 0).UTC().Format(time.RFC3339)
	}
	return t
}

func buildTrustedRoot(fulcio, ctfe, rekor, tsa []string) (*cosign.TrustedRoot, error) {
	tr := cosign.NewTrustedRoot()
	for _, s := range fulcio {
		sp, err := parseSpec("fulcio", s, []string{"url", "certificate-chain"}, []string{"start-time", "end-time"})
		if err != nil {
			return nil, err
		}
		chain, err := pki.ReadCertificates(sp["certificate-chain"])
		if err != nil {
			return nil, fmt.Errorf("--fulcio certificate-chain: %w", err)
		}
		w, err := sp.window("fulcio", chain[len(chain)-1].NotBefore)
		if err != nil {
			return nil, err
		}
		if err := cosign.AddCA(tr, sp["url"], chain, w); err != nil {
			return nil, err
		}
	}
	for _, s := range tsa {
		sp, err := parseSpec("tsa", s, []string{"url", "certificate-chain"}, []string{"start-time", "end-time"})
		if err != nil {
			return nil, err
		}
		chain, err := pki.ReadCertificates(sp["certificate-chain"])
		if err != nil {
			return nil, fmt.Errorf("--tsa certificate-chain: %w", err)
		}
		w, err := sp.window("tsa", chain[0].NotBefore)
		if err != nil {
			return nil, err
		}
		if err := cosign.AddTSA(tr, sp["url"], chain, w); err != nil {
			return nil, fmt.Errorf("%w: --tsa: %v", errUsage, err)
		}
	}
	for _, l := range []struct {
		flag  string
		specs []string
		add   func(*cosign.TrustedRoot, string, any, []byte, cosign.Window) error
	}{
		{"ctfe", ctfe, func(tr *cosign.TrustedRoot, u string, k any, id []byte, w cosign.Window) error {
			return cosign.AddCTLog(tr, u, k, id, w)
		}},
		{"rekor", rekor, func(tr *cosign.TrustedRoot, u string, k any, id []byte, w cosign.Window) error {
			return cosign.AddTlog(tr, u, k, id, w)
		}},
	} {
		for _, s := range l.specs {
			optional := []string{"end-time"}
			if l.flag == "rekor" {
				optional = append(optional, "origin")
			}
			sp, err := parseSpec(l.flag, s, []string{"url", "public-key", "start-time"}, optional)
			if err != nil {
				return nil, err
			}
			data, err := os.ReadFile(sp["public-key"])
			if err != nil {
				return nil, fmt.Errorf("--%s public-key: %w", l.flag, err)
			}
			pub, err := keys.ParsePublicKey(data)
			if err != nil {
				return nil, fmt.Errorf("--%s public-key %s: %w", l.flag, sp["public-key"], err)
			}
			id, err := tlog.LogID(pub)
			if err != nil {
				return nil, err
			}
			if sp["origin"] != "" {
				if id, err = tlog.CheckpointKeyID(sp["origin"], pub); err != nil {
					return nil, err
				}
			}
			w, err := sp.window(l.flag, time.Time{})
			if err != nil {
				return nil, err
			}
			if err := l.add(tr, sp["url"], pub, id, w); err != nil {
				return nil, fmt.Errorf("--%s: %w", l.flag, err)
			}
		}
	}
	return tr, nil
}

func (a *app) writeTrustFile(out string, m proto.Message) error {
	b, err := cosign.MarshalTrust(m)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if out == "" {
		_, err = a.stdout.Write(b)
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	a.infof("Wrote %s", out)
	return nil
}

func (a *app) signingConfigCommand() *cobra.Command {
	var (
		fulcio, rekor, oidc, tsa          []string
		rekorConfig, tsaConfig, base, out string
		withDefaults, withRekorV2         bool
	)
	create := &cobra.Command{
		Use:   "create [--fulcio SPEC]... [--rekor SPEC]... [--oidc-provider SPEC]... [--tsa SPEC]... [--out FILE]",
		Short: "Create a Sigstore signing config naming your CA, OIDC issuer, logs and TSAs",
		Long: `Create a signing config (application/vnd.dev.sigstore.signingconfig.v0.2+json)
as cosign signing-config create does. Each service flag is repeatable and takes
url=URL,api-version=N,start-time=T,operator=NAME[,end-time=T]. --rekor-config
and --tsa-config (ANY, ALL or EXACT:<n>) say how many logs and TSAs a signer
uses; they are required with --rekor and --tsa. --base-config starts from a
file: the categories given replace its services.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if withDefaults || withRekorV2 {
				return fmt.Errorf("%w: --with-default-services needs the public-good TUF repository, and Hallmark fetches nothing: give --base-config or the services", errUsage)
			}
			if len(rekor) > 0 && rekorConfig == "" {
				return fmt.Errorf("%w: --rekor-config must be provided when --rekor is specified", errUsage)
			}
			if len(tsa) > 0 && tsaConfig == "" {
				return fmt.Errorf("%w: --tsa-config must be provided when --tsa is specified", errUsage)
			}
			sc := cosign.NewSigningConfig(cosign.SigningServices{})
			if base != "" {
				data, err := os.ReadFile(base)
				if err != nil {
					return fmt.Errorf("--base-config: %w", err)
				}
				if sc, err = cosign.ParseSigningConfig(data); err != nil {
					return fmt.Errorf("--base-config %s: %w", base, err)
				}
			}
			for _, c := range []struct {
				flag  string
				specs []string
				dst   *[]*prototrustroot.Service
			}{
				{"fulcio", fulcio, &sc.CaUrls}, {"rekor", rekor, &sc.RekorTlogUrls}, {"oidc-provider", oidc, &sc.OidcUrls}, {"tsa", tsa, &sc.TsaUrls},
			} {
				if len(c.specs) == 0 {
					continue
				}
				*c.dst = nil
				for _, s := range c.specs {
					svc, err := parseService(c.flag, s)
					if err != nil {
						return err
					}
					*c.dst = append(*c.dst, svc)
				}
			}
			for _, c := range []struct {
				flag, val string
				dst       **prototrustroot.ServiceConfiguration
			}{{"rekor-config", rekorConfig, &sc.RekorTlogConfig}, {"tsa-config", tsaConfig, &sc.TsaConfig}} {
				if c.val == "" {
					continue
				}
				cfg, err := parseSelector(c.flag, c.val)
				if err != nil {
					return err
				}
				*c.dst = cfg
			}
			return a.writeTrustFile(out, sc)
		},
	}
	f := create.Flags()
	f.StringArrayVar(&fulcio, "fulcio", nil, "certificate authority service: url=URL,api-version=N,start-time=T,operator=NAME[,end-time=T]")
	f.StringArrayVar(&rekor, "rekor", nil, "transparency log service (api-version 1 or 2)")
	f.StringArrayVar(&oidc, "oidc-provider", nil, "OIDC issuer service")
	f.StringArrayVar(&tsa, "tsa", nil, "timestamp authority service (its url is the time-stamp endpoint, …/api/v1/timestamp)")
	f.StringVar(&rekorConfig, "rekor-config", "", "how many logs to use: ANY, ALL or EXACT:<count> (required with --rekor)")
	f.StringVar(&tsaConfig, "tsa-config", "", "how many TSAs to use: ANY, ALL or EXACT:<count> (required with --tsa)")
	f.StringVar(&base, "base-config", "", "signing config to start from; service flags replace its services of that kind")
	f.StringVar(&out, "out", "", "write the signing config to this file (default: standard output)")
	f.BoolVar(&withDefaults, "with-default-services", false, "start from the public-good services (needs TUF: not supported offline)")
	f.BoolVar(&withRekorV2, "with-default-rekor-v2", false, "start from the public-good services with Rekor v2 (needs TUF: not supported offline)")
	for _, n := range []string{"no-default-fulcio", "no-default-rekor", "no-default-oidc", "no-default-tsa"} {
		f.Bool(n, false, "with --with-default-services, leave out that default")
	}
	create.MarkFlagsMutuallyExclusive("base-config", "with-default-services")
	create.MarkFlagsMutuallyExclusive("base-config", "with-default-rekor-v2")
	cmd := &cobra.Command{Use: "signing-config", Short: "Create Sigstore signing configs"}
	cmd.AddCommand(create)
	return cmd
}

func parseService(flag, s string) (*prototrustroot.Service, error) {
	sp, err := parseSpec(flag, s, []string{"url", "api-version", "start-time", "operator"}, []string{"end-time"})
	if err != nil {
		return nil, err
	}
	v, err := strconv.ParseUint(sp["api-version"], 10, 32)
	if err != nil || v == 0 {
		return nil, fmt.Errorf("%w: --%s: api-version %q is not a positive integer", errUsage, flag, sp["api-version"])
	}
	w, err := sp.window(flag, time.Time{})
	if err != nil {
		return nil, err
	}
	svc := cosign.NewSigningConfig(cosign.SigningServices{CAs: []cosign.Service{{URL: sp["url"], APIVersion: uint32(v), Operator: sp["operator"], Window: w}}})
	return svc.CaUrls[0], nil
}

func parseSelector(flag, s string) (*prototrustroot.ServiceConfiguration, error) {
	switch u := strings.ToUpper(strings.TrimSpace(s)); {
	case u == "ANY":
		return &prototrustroot.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY}, nil
	case u == "ALL":
		return &prototrustroot.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ALL}, nil
	case strings.HasPrefix(u, "EXACT:"):
		n, err := strconv.ParseUint(u[len("EXACT:"):], 10, 32)
		if err == nil && n >= 1 {
			return &prototrustroot.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_EXACT, Count: uint32(n)}, nil
		}
	}
	return nil, fmt.Errorf("%w: --%s %q: want ANY, ALL or EXACT:<count> (count at least 1)", errUsage, flag, s)
}
