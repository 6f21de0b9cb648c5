package cli

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/admit"
	"hallmark.dev/hallmark/pkg/imagepolicy"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/trust"
)

// admitFlags configure the admission engine: where policies and trust come
// from, what an unmatched image gets, and the cache.
type admitFlags struct {
	policies      []string
	trustedRoot   string
	trustRoots    []string
	noMatch       string
	allowInsecure bool
	cacheTTL      time.Duration
	failTTL       time.Duration
	cacheSize     int
}

func (f *admitFlags) add(cmd *cobra.Command, policyFlag, noMatchDefault string) {
	fl := cmd.Flags()
	fl.StringSliceVar(&f.policies, policyFlag, nil, "policy files or directories: ClusterImagePolicy (policy.sigstore.dev) and Kyverno ClusterPolicy/Policy with verifyImages (repeatable)")
	fl.StringVar(&f.trustedRoot, "trusted-root", "", "Sigstore trusted root JSON for authorities that name none: the logs, CAs, CT logs and TSAs keyless and logged signatures are checked under")
	fl.StringSliceVar(&f.trustRoots, "trust-root", nil, "NAME=FILE: a trusted root authorities name in trustRootRef (repeatable)")
	fl.StringVar(&f.noMatch, "no-match", noMatchDefault, "what an image no policy matches gets: allow, warn or deny")
	fl.BoolVar(&f.allowInsecure, "allow-insecure-registry", false, "allow registries over plain HTTP or with unverifiable TLS")
	fl.DurationVar(&f.cacheTTL, "cache-ttl", 10*time.Minute, "how long a verified (digest, authority) is remembered")
	fl.DurationVar(&f.failTTL, "cache-fail-ttl", 30*time.Second, "how long a failed verification is remembered (registry failures never are)")
	fl.IntVar(&f.cacheSize, "cache-size", 10000, "most verification outcomes kept (least recently used go first)")
}

// trustRoots reads --trusted-root (as "") and every --trust-root.
func (f *admitFlags) trustMaterial() (map[string]*trust.Material, error) {
	roots := map[string]*trust.Material{}
	if f.trustedRoot != "" {
		m, err := loadTrustedRoot(f.trustedRoot)
		if err != nil {
			return nil, err
		}
		roots[""] = m
	}
	for _, tr := range f.trustRoots {
		name, file, ok := strings.Cut(tr, "=")
		if !ok || name == "" || file == "" {
			return nil, fmt.Errorf("%w: --trust-root %q: want NAME=FILE", errUsage, tr)
		}
		m, err := loadTrustedRoot(file)
		if err != nil {
			return nil, err
		}
		roots[name] = m
	}
	return roots, nil
}

// engineConfig is the engine the flags describe, without policies.
func (f *admitFlags) engineConfig(logger *slog.Logger) (admit.Config, error) {
	roots, err := f.trustMaterial()
	if err != nil {
		return admit.Config{}, err
	}
	switch admit.NoMatch(f.noMatch) {
	case admit.NoMatchAllow, admit.NoMatchWarn, admit.NoMatchDeny:
	default:
		return admit.Config{}, fmt.Errorf("%w: --no-match %q: want allow, warn or deny", errUsage, f.noMatch)
	}
	cfg := admit.Config{TrustRoots: roots, NoMatch: admit.NoMatch(f.noMatch), TTL: f.cacheTTL, FailTTL: f.failTTL,
		CacheSize: f.cacheSize, Logger: logger}
	if f.allowInsecure {
		cfg.Registry = append(cfg.Registry, oci.WithInsecure())
	}
	return cfg, nil
}

// loadPolicies reads the policy files; none is a usage error.
func (f *admitFlags) loadPolicies(flag string) ([]*imagepolicy.Policy, error) {
	if len(f.policies) == 0 {
		return nil, nil
	}
	ps, err := imagepolicy.LoadPaths(f.policies)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return ps, nil
}
