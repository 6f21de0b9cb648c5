package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/oci"
)

// registryFlags are the registry options sign and verify share with cosign.
type registryFlags struct {
	allowInsecure bool
	allowHTTP     bool
	sigRepo       string
}

func (f *registryFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.allowInsecure, "allow-insecure-registry", false, "allow registries over plain HTTP or with unverifiable TLS")
	cmd.Flags().BoolVar(&f.allowHTTP, "allow-http-registry", false, "allow registries over plain HTTP")
	cmd.Flags().StringVar(&f.sigRepo, "signature-repository", "", "store and read signatures in this repository (default: $COSIGN_REPOSITORY, else the image's own)")
}

func (a *app) client(f *registryFlags) (*oci.Client, error) {
	var opts []oci.Option
	if f.allowInsecure || f.allowHTTP {
		opts = append(opts, oci.WithInsecure())
	}
	repo := f.sigRepo
	if repo == "" {
		repo = a.getenv("COSIGN_REPOSITORY")
	}
	opts = append(opts, oci.WithSignatureRepository(repo))
	return oci.New(opts...)
}

// parseAnnotations turns -a key=value flags into a map.
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
