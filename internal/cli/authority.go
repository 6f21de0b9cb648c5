package cli

import (
	"crypto/x509"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/trust"
	"hallmark.dev/hallmark/pkg/verify"
)

// authorityFlags say who a signature must come from, as cosign's verify
// flags do: a public key (--key), or a certificate identity and OIDC issuer
// under the CAs of a trusted root (keyless), and which evidence to demand.
type authorityFlags struct {
	key         string
	trustedRoot string

	ignoreTlog, ignoreSCT, useSignedTimestamps bool

	identity, identityRegexp, issuer, issuerRegexp string
	ghTrigger, ghSHA, ghName, ghRepository, ghRef  string

	caRoots, caIntermediates, certificateChain string
}

func (f *authorityFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.key, "key", "k", "", "public key to verify with: a PEM file (or certificate), or env://VAR")
	fl.StringVar(&f.trustedRoot, "trusted-root", "", "Sigstore trusted root JSON: the logs, CAs, CT logs and TSAs to trust (nothing is fetched)")
	fl.BoolVar(&f.ignoreTlog, "insecure-ignore-tlog", false, "accept signatures without a verified transparency log entry")
	fl.BoolVar(&f.ignoreSCT, "insecure-ignore-sct", false, "do not require a verified SCT (certificate transparency) in keyless certificates")
	fl.BoolVar(&f.useSignedTimestamps, "use-signed-timestamps", false, "date keyless signatures by their RFC 3161 timestamps instead of log integrated times")
	fl.Bool("offline", true, "accepted for cosign compatibility: Hallmark always verifies offline (log entries travel with the signature; nothing is looked up)")
	fl.StringVar(&f.identity, "certificate-identity", "", "keyless: the identity (e-mail, URI or username) the certificate must be issued to")
	fl.StringVar(&f.identityRegexp, "certificate-identity-regexp", "", "keyless: a Go regular expression the certificate identity must match (anchor it with ^ and $)")
	fl.StringVar(&f.issuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer the certificate must name, e.g. https://token.actions.githubusercontent.com")
	fl.StringVar(&f.issuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless: a Go regular expression the certificate's OIDC issuer must match")
	fl.StringVar(&f.ghTrigger, "certificate-github-workflow-trigger", "", "keyless: the GitHub workflow trigger (event_name claim) the certificate must carry")
	fl.StringVar(&f.ghSHA, "certificate-github-workflow-sha", "", "keyless: the commit SHA (sha claim) the certificate must carry")
	fl.StringVar(&f.ghName, "certificate-github-workflow-name", "", "keyless: the workflow name (workflow claim) the certificate must carry")
	fl.StringVar(&f.ghRepository, "certificate-github-workflow-repository", "", "keyless: the repository (repository claim) the certificate must carry")
	fl.StringVar(&f.ghRef, "certificate-github-workflow-ref", "", "keyless: the git ref (ref claim) the certificate must carry")
	fl.StringVar(&f.caRoots, "ca-roots", "", "keyless: PEM file of CA root certificates to trust besides the trusted root's")
	fl.StringVar(&f.caIntermediates, "ca-intermediates", "", "keyless: PEM file of intermediate CA certificates (with --ca-roots)")
	fl.StringVar(&f.certificateChain, "certificate-chain", "", "keyless: PEM file of a CA chain, intermediates first, root last, to trust besides the trusted root's")
	cmd.MarkFlagsMutuallyExclusive("ca-roots", "certificate-chain")
	cmd.MarkFlagsMutuallyExclusive("ca-intermediates", "certificate-chain")
}

func (f *authorityFlags) keyless() bool {
	return f.key == ""
}

// verifier builds the Verifier the flags describe, warning on stderr about
// regular expressions that are not anchored.
func (a *app) verifier(f *authorityFlags) (*verify.Verifier, error) {
	m, err := f.material()
	if err != nil {
		return nil, err
	}
	opts := []verify.Option{verify.WithTrust(m)}
	if f.ignoreTlog {
		opts = append(opts, verify.WithoutTlogUnsafe())
	}
	if f.ignoreSCT {
		opts = append(opts, verify.WithoutSCTUnsafe())
	}
	if f.useSignedTimestamps {
		opts = append(opts, verify.WithSignedTimestamps())
	}
	hasIdentity := f.identity != "" || f.identityRegexp != "" || f.issuer != "" || f.issuerRegexp != ""
	if !f.keyless() {
		if hasIdentity {
			return nil, fmt.Errorf("%w: give either --key or a certificate identity (--certificate-identity, --certificate-oidc-issuer), not both: a bundle with a publicKey verifies with --key, one with a certificate with the identity flags", errUsage)
		}
		pub, err := a.loadPublicKey(f.key)
		if err != nil {
			return nil, err
		}
		v, err := verify.NewKeyVerifier(pub, opts...)
		if err != nil {
			return nil, fmt.Errorf("public key %s: %w", f.key, err)
		}
		return v, nil
	}
	if f.identity == "" && f.identityRegexp == "" {
		return nil, fmt.Errorf("%w: --certificate-identity or --certificate-identity-regexp is required for verification in keyless mode (or --key to verify with a key)", errUsage)
	}
	if f.issuer == "" && f.issuerRegexp == "" {
		return nil, fmt.Errorf("%w: --certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required for verification in keyless mode", errUsage)
	}
	if f.trustedRoot == "" && f.caRoots == "" && f.certificateChain == "" {
		return nil, fmt.Errorf("%w: keyless verification needs --trusted-root FILE naming the CAs, logs and CT logs to trust (Hallmark fetches nothing behind your back; `hallmark log serve` and `hallmark serve` write one)", errUsage)
	}
	id := verify.Identity{
		Subject: f.identity, SubjectRegexp: f.identityRegexp, Issuer: f.issuer, IssuerRegexp: f.issuerRegexp,
		Extensions: cosign.CertExtensions{
			GithubWorkflowTrigger: f.ghTrigger, GithubWorkflowSHA: f.ghSHA, GithubWorkflowName: f.ghName,
			GithubWorkflowRepository: f.ghRepository, GithubWorkflowRef: f.ghRef,
		},
	}
	for _, r := range []struct{ flag, re string }{{"--certificate-identity-regexp", f.identityRegexp}, {"--certificate-oidc-issuer-regexp", f.issuerRegexp}} {
		if loose := verify.Unanchored(r.re); loose != "" {
			a.infof("WARNING: %s %s is not anchored at both ends: it %s. Anchor it (^...$) unless that is what you mean", r.flag, r.re, loose)
		}
	}
	v, err := verify.NewCertificateVerifier([]verify.Identity{id}, opts...)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return v, nil
}

// material reads the trusted root and any CA files given beside it.
func (f *authorityFlags) material() (*trust.Material, error) {
	m := &trust.Material{}
	if f.trustedRoot != "" {
		var err error
		if m, err = loadTrustedRoot(f.trustedRoot); err != nil {
			return nil, err
		}
	}
	switch {
	case f.certificateChain != "":
		certs, err := readCertificates(f.certificateChain)
		if err != nil {
			return nil, err
		}
		m.CAs = append(m.CAs, trust.CA{URI: f.certificateChain, Root: certs[len(certs)-1], Intermediates: certs[:len(certs)-1]})
	case f.caRoots != "":
		roots, err := readCertificates(f.caRoots)
		if err != nil {
			return nil, err
		}
		var inters []*x509.Certificate
		if f.caIntermediates != "" {
			if inters, err = readCertificates(f.caIntermediates); err != nil {
				return nil, err
			}
		}
		for _, r := range roots {
			m.CAs = append(m.CAs, trust.CA{URI: f.caRoots, Root: r, Intermediates: inters})
		}
	case f.caIntermediates != "":
		return nil, fmt.Errorf("%w: --ca-intermediates needs --ca-roots", errUsage)
	}
	return m, nil
}

// loadTrustedRoot reads and parses a Sigstore trusted root file.
func loadTrustedRoot(path string) (*trust.Material, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading trusted root %s: %w", path, err)
	}
	tr, err := cosign.ParseTrustedRoot(data)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", path, err)
	}
	m, err := trust.FromTrustedRoot(tr)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", path, err)
	}
	return m, nil
}

func readCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading certificates %s: %w", path, err)
	}
	certs, err := cosign.ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("certificates %s: %w", path, err)
	}
	return certs, nil
}
