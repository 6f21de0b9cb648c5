package cli

import (
	"context"
	"crypto"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/ca"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/idtoken"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/sign"
	"hallmark.dev/hallmark/pkg/trust"
	"hallmark.dev/hallmark/pkg/tsa"
	"hallmark.dev/hallmark/pkg/verify"
)

// keylessFlags are cosign's flags for signing with a certificate from a CA.
type keylessFlags struct {
	identityToken    string
	fulcioURL        string
	oidcIssuer       string
	clientID         string
	clientSecretFile string
	redirectURL      string
	oidcProvider     string
	authFlow         string
	disableAmbient   bool
	issueCertificate bool
	tsaURL           string
	trustedRoot      string
}

func (f *keylessFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.identityToken, "identity-token", "", "OIDC identity token for the certificate: the token, or a file holding it")
	fs.StringVar(&f.fulcioURL, "fulcio-url", "", "certificate authority (Fulcio API) to get the certificate from; needs --use-signing-config=false (default: caUrls of --signing-config)")
	fs.StringVar(&f.oidcIssuer, "oidc-issuer", "", "OIDC issuer to sign in with when no token is at hand; needs --use-signing-config=false (default: oidcUrls of --signing-config)")
	fs.StringVar(&f.clientID, "oidc-client-id", "sigstore", "OIDC client ID")
	fs.StringVar(&f.clientSecretFile, "oidc-client-secret-file", "", "file holding the OIDC client secret")
	fs.StringVar(&f.redirectURL, "oidc-redirect-url", "", "redirect URL of the browser sign-in (default http://localhost:<random port>/auth/callback)")
	fs.StringVar(&f.oidcProvider, "oidc-provider", "", "take the token from this ambient source only: filesystem, envvar (SIGSTORE_ID_TOKEN) or github-actions")
	fs.BoolVar(&f.disableAmbient, "oidc-disable-ambient-providers", false, "do not look for ambient tokens (SIGSTORE_ID_TOKEN, GitHub Actions, the filesystem token)")
	fs.StringVar(&f.authFlow, "fulcio-auth-flow", "", "how to sign in when no token is at hand: normal (browser), device or client_credentials (default: device without a terminal, else normal)")
	fs.BoolVar(&f.issueCertificate, "issue-certificate", false, "with --key, also get a certificate for the key from the CA")
	fs.StringVar(&f.tsaURL, "timestamp-server-url", "", "RFC 3161 timestamp authority to timestamp the signature at; needs --use-signing-config=false (default: tsaUrls of --signing-config)")
	fs.StringVar(&f.trustedRoot, "trusted-root", "", "trusted root to verify the new signature against after signing, as cosign does")
	fs.Bool("insecure-skip-verify", false, "deprecated, no effect (cosign no longer checks SCTs when signing)")
	_ = fs.MarkHidden("insecure-skip-verify")
}

// services are the URLs a keyless signature is made with.
type keylessServices struct {
	ca, oidc string
	tsas     []string
}

// keylessServices reads the CA, OIDC issuer and TSAs from the signing
// config, or from the URL flags without one, refusing both at once as
// cosign does.
func (a *app) keylessServices(kf *keylessFlags, lf *logFlags) (*keylessServices, error) {
	urlFlags := kf.fulcioURL != "" || kf.oidcIssuer != "" || kf.tsaURL != "" || lf.rekorURL != ""
	if lf.signingConfig != "" {
		if urlFlags {
			return nil, fmt.Errorf("%w: cannot specify service URLs (--fulcio-url, --rekor-url, --oidc-issuer, --timestamp-server-url) and use --signing-config", errUsage)
		}
		sc, err := readSigningConfig(lf.signingConfig)
		if err != nil {
			return nil, err
		}
		now := time.Now()
		s := &keylessServices{}
		caSvc, err := cosign.SelectService(sc.GetCaUrls(), []uint32{1}, now, "caUrls")
		if err != nil {
			return nil, fmt.Errorf("signing config %s: %w", lf.signingConfig, err)
		}
		s.ca = caSvc.GetUrl()
		if o, err := cosign.SelectService(sc.GetOidcUrls(), []uint32{1}, now, "oidcUrls"); err == nil {
			s.oidc = o.GetUrl()
		}
		if s.tsas, err = signingConfigTSAs(sc, lf.signingConfig, now); err != nil {
			return nil, err
		}
		return s, nil
	}
	if kf.fulcioURL == "" {
		return nil, fmt.Errorf("%w: no certificate authority: give --signing-config (its caUrls) or --fulcio-url (Hallmark fetches no public-good configuration)", errUsage)
	}
	s := &keylessServices{ca: kf.fulcioURL, oidc: kf.oidcIssuer}
	if kf.tsaURL != "" {
		s.tsas = []string{kf.tsaURL}
	}
	return s, nil
}

// signingConfigTSAs are the timestamp authorities a signing config selects.
func signingConfigTSAs(sc *cosign.SigningConfig, path string, now time.Time) ([]string, error) {
	tsas, err := cosign.SelectServices(sc.GetTsaUrls(), sc.GetTsaConfig(), []uint32{1}, now, "tsaUrls")
	if err != nil {
		return nil, fmt.Errorf("signing config %s: %w", path, err)
	}
	var out []string
	for _, t := range tsas {
		out = append(out, t.GetUrl())
	}
	return out, nil
}

// keyTSAs are the timestamp authorities a key signer asks, as cosign's:
// --timestamp-server-url, or the signing config's tsaUrls.
func keyTSAs(kf *keylessFlags, lf *logFlags) ([]string, error) {
	switch {
	case kf.tsaURL != "" && lf.signingConfig != "":
		return nil, fmt.Errorf("%w: cannot specify service URLs (--timestamp-server-url) and use --signing-config", errUsage)
	case kf.tsaURL != "":
		return []string{kf.tsaURL}, nil
	case lf.signingConfig == "":
		return nil, nil
	}
	sc, err := readSigningConfig(lf.signingConfig)
	if err != nil {
		return nil, err
	}
	return signingConfigTSAs(sc, lf.signingConfig, time.Now())
}

// timestampOptions asks each of urls for a timestamp over every signature.
func timestampOptions(urls []string) []sign.Option {
	var opts []sign.Option
	for _, u := range urls {
		opts = append(opts, sign.WithTimestamps(&tsa.Client{URL: u, HTTP: &http.Client{Timeout: 30 * time.Second}}))
	}
	return opts
}

// keylessSigner gets a certificate for key (a fresh key when nil) from the
// CA and returns a signer that logs, timestamps and self-checks as the
// flags and signing config say.
func (a *app) keylessSigner(ctx context.Context, kf *keylessFlags, lf *logFlags, key crypto.Signer) (*sign.Signer, error) {
	svcs, err := a.keylessServices(kf, lf)
	if err != nil {
		return nil, err
	}
	logOpts, rekorAPI, err := a.logOptions(lf)
	if err != nil {
		return nil, err
	}
	if rekorAPI == 2 && len(svcs.tsas) == 0 {
		return nil, fmt.Errorf("%w: a Rekor v2 log gives no signed time, so a short-lived certificate needs a timestamp authority: add tsaUrls to the signing config (or --timestamp-server-url)", errUsage)
	}
	secret := ""
	if kf.clientSecretFile != "" {
		b, err := os.ReadFile(kf.clientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	token, src, err := idtoken.Get(ctx, idtoken.Options{
		Token: kf.identityToken, Issuer: svcs.oidc, ClientID: kf.clientID, ClientSecret: secret,
		RedirectURL: kf.redirectURL, Flow: kf.authFlow, Provider: kf.oidcProvider, DisableAmbient: kf.disableAmbient,
		Interactive: a.isTTY(), LookupEnv: a.lookupEnv, Stderr: a.stderr,
	})
	if err != nil {
		return nil, fmt.Errorf("getting an identity token: %w", err)
	}
	if key == nil {
		a.infof("Generating ephemeral keys...")
		if key, err = keys.Generate(); err != nil {
			return nil, err
		}
	}
	// The trusted root is read while the CA works (its errors still come
	// after the CA's).
	type loadedTrust struct {
		m   *trust.Material
		err error
	}
	trustc := make(chan loadedTrust, 1)
	if kf.trustedRoot != "" {
		go func() { m, err := loadTrustedRoot(kf.trustedRoot); trustc <- loadedTrust{m, err} }()
	}
	a.infof("Retrieving signed certificate from %s (identity token from %s)...", svcs.ca, src)
	chain, err := (&ca.Client{URL: svcs.ca, HTTP: &http.Client{Timeout: 30 * time.Second}}).SigningCertificate(ctx, token, key)
	if err != nil {
		return nil, err
	}
	subject, _ := cosign.CertSubject(chain[0])
	ext, _ := cosign.ParseCertExtensions(chain[0])
	a.infof("Certificate issued to %s by %s (valid until %s)", subject, ext.Issuer, chain[0].NotAfter.UTC().Format(time.RFC3339))
	opts := append(logOpts, sign.WithCertificate(chain[0], chain[1:]))
	opts = append(opts, timestampOptions(svcs.tsas)...)
	if kf.trustedRoot != "" {
		loaded := <-trustc
		if loaded.err != nil {
			return nil, loaded.err
		}
		m := loaded.m
		vopts := []verify.Option{verify.WithTrust(m)}
		if len(m.CTLogs) == 0 {
			vopts = append(vopts, verify.WithoutSCTUnsafe())
		}
		if len(logOpts) == 0 {
			vopts = append(vopts, verify.WithoutTlogUnsafe())
		}
		v, err := verify.NewCertificateVerifier([]verify.Identity{{Subject: subject, Issuer: ext.Issuer}}, vopts...)
		if err != nil {
			return nil, fmt.Errorf("--trusted-root %s: %w", kf.trustedRoot, err)
		}
		opts = append(opts, sign.WithSelfCheck(v))
	}
	return sign.New(key, opts...)
}
