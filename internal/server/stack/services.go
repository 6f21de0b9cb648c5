package stack

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	caserver "hallmark.dev/hallmark/internal/server/ca"
	ctserver "hallmark.dev/hallmark/internal/server/ct"
	oidcserver "hallmark.dev/hallmark/internal/server/oidc"
	tsaserver "hallmark.dev/hallmark/internal/server/tsa"
	"hallmark.dev/hallmark/pkg/ca"
	"hallmark.dev/hallmark/pkg/idp"
	"hallmark.dev/hallmark/pkg/pki"
	"hallmark.dev/hallmark/pkg/tsa"
)

// Organization names the certificates Hallmark creates.
const Organization = "Hallmark"

// TSA is an opened timestamp authority.
type TSA struct {
	Authority *tsa.Authority
	Handler   http.Handler
}

// OpenTSA opens the timestamp authority kept in dir, or one whose chain and
// key are given as files (chainPath, keyPath).
func OpenTSA(dir, chainPath, keyPath string, logger *slog.Logger) (*TSA, error) {
	var (
		key   crypto.Signer
		chain []*x509.Certificate
		err   error
	)
	if chainPath != "" {
		if chain, err = pki.ReadCertificates(chainPath); err != nil {
			return nil, fmt.Errorf("TSA chain: %w", err)
		}
		if key, err = pki.ReadKey(keyPath, nil); err != nil {
			return nil, fmt.Errorf("TSA key: %w", err)
		}
	} else if key, chain, err = tsa.LoadOrCreate(dir, Organization); err != nil {
		return nil, fmt.Errorf("TSA in %s: %w", dir, err)
	}
	a, err := tsa.New(key, chain, tsa.Options{})
	if err != nil {
		return nil, err
	}
	return &TSA{Authority: a, Handler: tsaserver.NewHandler(a, logger)}, nil
}

// OIDC is an opened identity provider.
type OIDC struct {
	Provider *idp.Provider
	Handler  http.Handler
	// ClientID and ClientSecret are the confidential client `hallmark oidc
	// token` and run registration use.
	ClientID, ClientSecret string
}

// Public OAuth client (cosign's default) and the confidential one.
const (
	PublicClient       = "sigstore"
	ConfidentialClient = "hallmark"
	clientSecretFile   = "client-secret"
)

// OpenOIDC opens the identity provider kept in dir, issuing as issuer. Its
// key is RSA (RS256), so cosign takes its raw tokens for --identity-token.
func OpenOIDC(dir, issuer string, identities []idp.Identity, ttl time.Duration, logger *slog.Logger) (*OIDC, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	keyPath := filepath.Join(dir, "signer.pem")
	key, err := pki.ReadKey(keyPath, nil)
	if errors.Is(err, fs.ErrNotExist) {
		rk, gerr := rsa.GenerateKey(rand.Reader, 2048)
		if gerr != nil {
			return nil, gerr
		}
		b, merr := pki.MarshalKey(rk)
		if merr != nil {
			return nil, merr
		}
		if err = pki.WriteFileAtomic(keyPath, b, 0o600); err == nil {
			key = rk
		}
	}
	if err != nil {
		return nil, fmt.Errorf("OIDC signing key: %w", err)
	}
	secret, err := loadOrCreateSecret(filepath.Join(dir, clientSecretFile))
	if err != nil {
		return nil, err
	}
	p, err := idp.New(idp.Config{
		Issuer: issuer, Key: key, TokenTTL: ttl, Identities: identities,
		Clients: []idp.Client{{ID: PublicClient}, {ID: ConfidentialClient, Secret: secret}},
	})
	if err != nil {
		return nil, err
	}
	return &OIDC{Provider: p, Handler: oidcserver.NewHandler(p, logger), ClientID: ConfidentialClient, ClientSecret: secret}, nil
}

// ReadClientSecret reads the confidential client's secret from an identity
// provider's directory.
func ReadClientSecret(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, clientSecretFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func loadOrCreateSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	s := hex.EncodeToString(b)
	return s, pki.WriteFileAtomic(path, []byte(s+"\n"), 0o600)
}

// CAChain returns the CA kept in dir (created on first use: a root and an
// intermediate restricted to code signing, as Fulcio's), or the one given
// as files.
func CAChain(dir, chainPath, keyPath string) ([]*x509.Certificate, crypto.Signer, error) {
	if chainPath != "" {
		return pki.ReadCA(chainPath, keyPath, nil)
	}
	chain, key, _, err := pki.LoadOrCreateCA(dir, pki.CASpec{
		Organization: Organization, CommonName: Organization + " CA", Intermediate: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("CA in %s: %w", dir, err)
	}
	return chain, key, nil
}

// CA is an opened certificate authority.
type CA struct {
	CA      *ca.CA
	Handler http.Handler
}

// OpenCA opens a CA over chain and key, trusting issuers, logging to ct
// when it is not nil. ctIssuers is how many of chain follow each
// precertificate to the log (-1: all, as Fulcio).
func OpenCA(chain []*x509.Certificate, key crypto.Signer, issuers *ca.Config, ct ca.CTLog, ctIssuers int, logger *slog.Logger) (*CA, error) {
	opts := ca.Options{Signer: key, Chain: chain, Issuers: issuers, CT: ct}
	if ctIssuers >= 0 {
		opts.CTIssuers = &ctIssuers
	}
	c, err := ca.New(opts)
	if err != nil {
		return nil, err
	}
	return &CA{CA: c, Handler: caserver.NewHandler(c, logger)}, nil
}

// IssuersFor is a Fulcio configuration trusting an identity provider: its
// e-mail issuer, and its workflow issuer as GitHub Actions.
func IssuersFor(p *idp.Provider) (*ca.Config, error) {
	return ca.ParseConfig([]byte(`{"OIDCIssuers":{` +
		`"` + p.Issuer() + `":{"ClientID":"` + PublicClient + `","Type":"email","Description":"Hallmark identity provider"},` +
		`"` + p.GitHubIssuer() + `":{"ClientID":"` + PublicClient + `","Type":"ci-provider","CIProvider":"github-workflow","Description":"Hallmark identity provider (GitHub Actions workflows)"}}}`))
}

// CT is an opened CT log.
type CT struct {
	Log     *ctserver.Log
	Signer  crypto.Signer
	Handler http.Handler
}

// OpenCT opens the CT log kept in dir, accepting chains to roots, its
// checkpoints naming the log by its URL; batchMaxAge is Tessera's (0: the
// log's default); logger takes the log's warnings.
func OpenCT(ctx context.Context, dir, logURL string, roots []*x509.Certificate, batchMaxAge time.Duration, logger *slog.Logger) (*CT, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	signer, _, err := pki.LoadOrCreateKey(filepath.Join(dir, "signer.pem"))
	if err != nil {
		return nil, fmt.Errorf("CT log key: %w", err)
	}
	u, err := url.Parse(logURL)
	if err != nil {
		return nil, err
	}
	// The origin names the log in checkpoints: the URL's host without its
	// port (TesseraCT wants a schemeless URL), fixed at first start.
	origin, err := Remembered(dir, "origin", strings.TrimSuffix(u.Hostname()+u.Path, "/")+"/ct")
	if err != nil {
		return nil, err
	}
	l, err := ctserver.Open(ctx, ctserver.Config{Dir: filepath.Join(dir, "log"), Signer: signer, Origin: origin, Roots: roots, BatchMaxAge: batchMaxAge, Logger: logger})
	if err != nil {
		return nil, err
	}
	return &CT{Log: l, Signer: signer, Handler: l.Handler()}, nil
}
