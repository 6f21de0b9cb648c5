package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/oci"
)

// registryFlags are the registry options sign and verify share with cosign.
type registryFlags struct {
	allowInsecure bool
	allowHTTP     bool
	sigRepo       string

	username, password, token string
	cacert, clientCert        string
	clientKey, serverName     string
	k8sKeychain               bool
}

func (f *registryFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.allowInsecure, "allow-insecure-registry", false, "allow registries over plain HTTP or with unverifiable TLS")
	fl.BoolVar(&f.allowHTTP, "allow-http-registry", false, "allow registries over plain HTTP")
	fl.StringVar(&f.sigRepo, "signature-repository", "", "store and read signatures in this repository (default: $COSIGN_REPOSITORY, else the image's own)")
	fl.StringVar(&f.username, "registry-username", "", "registry basic auth username")
	fl.StringVar(&f.password, "registry-password", "", "registry basic auth password")
	fl.StringVar(&f.token, "registry-token", "", "registry bearer auth token")
	fl.StringVar(&f.cacert, "registry-cacert", "", "PEM CA certificate(s) to verify the registry's TLS certificate with")
	fl.StringVar(&f.clientCert, "registry-client-cert", "", "PEM client certificate for mutual TLS with the registry (with --registry-client-key)")
	fl.StringVar(&f.clientKey, "registry-client-key", "", "PEM private key of --registry-client-cert")
	fl.StringVar(&f.serverName, "registry-server-name", "", "TLS server name to verify the registry's certificate against")
	fl.BoolVar(&f.k8sKeychain, "k8s-keychain", false, "use the keychain (as cosign, before any --registry-username/--registry-token): Hallmark's reads the Docker config and credential helpers (which cloud credential helpers fill), not cloud SDKs")
}

func (a *app) client(f *registryFlags) (*oci.Client, error) {
	var opts []oci.Option
	if f.allowInsecure || f.allowHTTP {
		opts = append(opts, oci.WithInsecure())
	}
	// cosign's precedence: the keychain named by --k8s-keychain first, then
	// basic credentials, then a token, then the default keychain.
	switch {
	case f.k8sKeychain:
	case f.username != "" || f.password != "":
		if f.username == "" || f.password == "" {
			return nil, fmt.Errorf("%w: --registry-username and --registry-password go together", errUsage)
		}
		opts = append(opts, oci.WithAuthenticator(&authn.Basic{Username: f.username, Password: f.password}))
	case f.token != "":
		opts = append(opts, oci.WithAuthenticator(&authn.Bearer{Token: f.token}))
	}
	tr, err := f.transport()
	if err != nil {
		return nil, err
	}
	if tr != nil {
		opts = append(opts, oci.WithTransport(tr))
	}
	repo := f.sigRepo
	if repo == "" {
		repo = a.getenv("COSIGN_REPOSITORY")
	}
	opts = append(opts, oci.WithSignatureRepository(repo))
	return oci.New(opts...)
}

// transport is an HTTP transport with the TLS settings the flags give, or
// nil for the default. Unlike cosign, a file that cannot be read is an
// error, not a silent fallback to the default transport.
func (f *registryFlags) transport() (http.RoundTripper, error) {
	if f.cacert == "" && f.clientCert == "" && f.clientKey == "" && f.serverName == "" && !f.allowInsecure {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: f.serverName, InsecureSkipVerify: f.allowInsecure} //nolint:gosec // --allow-insecure-registry asks for it
	if f.cacert != "" {
		pem, err := os.ReadFile(f.cacert)
		if err != nil {
			return nil, fmt.Errorf("reading --registry-cacert %s: %w", f.cacert, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--registry-cacert %s: no PEM certificate in it", f.cacert)
		}
		cfg.RootCAs = pool
	}
	if (f.clientCert == "") != (f.clientKey == "") {
		return nil, fmt.Errorf("%w: --registry-client-cert and --registry-client-key go together", errUsage)
	}
	if f.clientCert != "" {
		pair, err := tls.LoadX509KeyPair(f.clientCert, f.clientKey)
		if err != nil {
			return nil, fmt.Errorf("--registry-client-cert %s / --registry-client-key %s: %w", f.clientCert, f.clientKey, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	return t, nil
}

// parseAnnotations turns -a key=value flags into a map. A value may itself
// hold '='; a repeated key keeps its last value.
func parseAnnotations(kvs []string) (map[string]any, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: annotation %q is not key=value", errUsage, kv)
		}
		out[k] = v
	}
	return out, nil
}
