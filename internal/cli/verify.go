package cli

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/check"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/verify"
)

type verifyOptions struct {
	auth         authorityFlags
	annotations  []string
	output       string
	registry     registryFlags
	bundleFormat bool
	maxWorkers   int
	checkClaims  bool
}

// defaultTimeout is cosign's --timeout default.
const defaultTimeout = 3 * time.Minute

func (a *app) verifyCommand() *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify (--key PUB | --certificate-identity ID --certificate-oidc-issuer URL --trusted-root FILE) [-a key=value]... IMAGE...",
		Short: "Verify the signatures of container images",
		Long: `Verify that each image has a signature, in either storage format, that verifies
under the public key (or, keyless, under a certificate a trusted CA issued to
the given identity), signs the image's own digest and carries the requested
annotations. Verified payloads are printed on standard output (cosign's JSON
shape), the checks made on standard error.

Exit codes: 10 no signatures, 11 no such image, 12 no signature verified,
13 keyless verification found only signatures without a certificate,
14 the registry failed or refused (its status is named), 2 bad usage,
1 anything else.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.verify(cmd.Context(), o, args)
		},
	}
	f := cmd.Flags()
	o.auth.add(cmd)
	f.StringSliceVarP(&o.annotations, "annotations", "a", nil, "key=value pairs the signature must carry (comma-separated or repeated)")
	f.StringVarP(&o.output, "output", "o", "json", "output format: json or text")
	f.BoolVar(&o.bundleFormat, "new-bundle-format", true, "accepted for cosign compatibility: both formats are always looked for")
	f.IntVar(&o.maxWorkers, "max-workers", 10, "how many signatures are fetched and verified at once")
	f.BoolVar(&o.checkClaims, "check-claims", true, "check that each signature signs this image's digest (and the -a annotations); false checks the signature alone")
	o.registry.add(cmd)
	return cmd
}

func (a *app) verify(ctx context.Context, o *verifyOptions, images []string) error {
	if o.output != "json" && o.output != "text" {
		return fmt.Errorf("%w: --output %q: want json or text", errUsage, o.output)
	}
	if o.maxWorkers <= 0 {
		return fmt.Errorf("%w: --max-workers must be at least 1", errUsage)
	}
	want, err := parseAnnotations(o.annotations)
	if err != nil {
		return err
	}
	v, err := a.verifier(&o.auth)
	if err != nil {
		return err
	}
	c, err := a.client(&o.registry)
	if err != nil {
		return err
	}
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	for _, img := range images {
		ref, err := c.ParseReference(img)
		if err != nil {
			return withCode(exitUsage, err)
		}
		p := verify.Policy{Annotations: stringMap(want), IgnoreClaimsUnsafe: !o.checkClaims}
		rep, err := check.Signatures(ctx, c, v, ref, p, check.Options{MaxWorkers: o.maxWorkers})
		if err != nil {
			return verifyExit(err, ref, ctx, a.global.timeout)
		}
		a.printChecks(ref.String(), o, v, len(want) > 0, rep.Results)
		if err := a.printResults(ref, rep.Results, o.output); err != nil {
			return err
		}
	}
	return nil
}

// verifyExit maps a verification outcome to cosign's exit codes (and
// Hallmark's 14 for a registry that failed).
func verifyExit(err error, ref name.Reference, ctx context.Context, timeout time.Duration) error {
	return verifyExitRef(err, ref.String(), ctx, timeout)
}

func verifyExitRef(err error, ref string, ctx context.Context, timeout time.Duration) error {
	var (
		none  *check.NoneVerifiedError
		noSig *check.NoSignaturesError
		rerr  *oci.RegistryError
	)
	if ctx.Err() == context.DeadlineExceeded {
		return withCode(exitRegistryFailure, fmt.Errorf("verifying %s: gave up after --timeout %s: %w", ref, timeout, err))
	}
	switch {
	case errors.Is(err, check.ErrNoSuchImage):
		return withCode(exitNoSuchTag, err)
	case errors.As(err, &noSig):
		return withCode(exitNoSignatures, err)
	case errors.As(err, &none) && none.NoCertificate():
		return withCode(exitNoCertificate, err)
	case errors.As(err, &rerr):
		return withCode(exitRegistryFailure, err)
	case errors.As(err, &none):
		return withCode(exitNoMatchingSig, err)
	}
	return err
}

func (a *app) printChecks(ref string, o *verifyOptions, v *verify.Verifier, annotations bool, results []*verify.Result) {
	a.infof("\nVerification for %s --", ref)
	a.infof("The following checks were performed on each of these signatures:")
	if !o.checkClaims {
		a.infof("  - The cosign claims were NOT validated (--check-claims=false): the signatures may be of another image")
	} else {
		if annotations {
			a.infof("  - The specified annotations were verified.")
		}
		a.infof("  - The cosign claims were validated")
	}
	if v.IgnoresTlog() {
		a.infof("  - The transparency log was NOT checked (--insecure-ignore-tlog)")
	} else {
		a.infof("  - Existence of the claims in the transparency log was verified offline")
	}
	if !v.Keyless() {
		a.infof("  - The signatures were verified against the specified public key")
		return
	}
	a.infof("  - The code-signing certificate was verified using trusted certificate authority certificates")
	if v.IgnoresSCT() {
		a.infof("  - The certificate's SCT was NOT checked (--insecure-ignore-sct)")
	} else {
		a.infof("  - The certificate's embedded SCT was verified against a trusted certificate transparency log")
	}
	for _, r := range results {
		if c := r.Certificate; c != nil {
			a.infof("  - Proven identity: subject %q, issuer %q (certificate valid at %s)", c.Subject, c.Extensions.Issuer, times(r.Times, r.TimeSources))
		}
	}
}

// times lists signing times with what gave each: "2026-01-02T03:04:05Z per
// the transparency log, ...".
func times(ts []time.Time, sources []string) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += t.UTC().Format(time.RFC3339)
		if i < len(sources) {
			s += " per the " + sources[i]
		}
	}
	return s
}

// printResults prints verified payloads in cosign's shape: simple-signing
// JSON, with a bundle's statement shown as cosign v3 shows it, and for
// legacy signatures the certificate's identity and the log entry cosign adds
// to "optional".
func (a *app) printResults(ref name.Reference, results []*verify.Result, output string) error {
	out := make([]cosign.SimpleSigning, 0, len(results))
	for _, r := range results {
		identity := r.Identity
		optional := r.Annotations
		if r.Format == verify.FormatBundle {
			identity = ref.Name()
			if optional == nil {
				optional = map[string]any{}
			}
		} else {
			optional = legacyOptional(r)
		}
		out = append(out, cosign.SimpleSigning{
			Critical: cosign.Critical{
				Identity: cosign.Identity{DockerReference: identity},
				Image:    cosign.Image{DockerManifestDigest: r.Digest},
				Type:     r.Type,
			},
			Optional: optional,
		})
	}
	if output == "text" {
		for _, s := range out {
			b, err := json.Marshal(s)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, string(b))
		}
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, string(b))
	return nil
}

// legacyOptional is a legacy signature's "optional" as cosign prints it:
// the signed annotations, then the certificate's subject, issuer and GitHub
// workflow extensions (by name and by OID) and the log entry's bundle.
func legacyOptional(r *verify.Result) map[string]any {
	opt := r.Annotations
	add := func(k string, v any) {
		if opt == nil {
			opt = map[string]any{}
		}
		opt[k] = v
	}
	if c := r.Certificate; c != nil {
		add("Subject", c.Subject)
		e := c.Extensions
		for _, f := range []struct {
			name, oid, value string
		}{
			{"Issuer", "1.3.6.1.4.1.57264.1.1", e.Issuer},
			{"githubWorkflowTrigger", "1.3.6.1.4.1.57264.1.2", e.GithubWorkflowTrigger},
			{"githubWorkflowSha", "1.3.6.1.4.1.57264.1.3", e.GithubWorkflowSHA},
			{"githubWorkflowName", "1.3.6.1.4.1.57264.1.4", e.GithubWorkflowName},
			{"githubWorkflowRepository", "1.3.6.1.4.1.57264.1.5", e.GithubWorkflowRepository},
			{"githubWorkflowRef", "1.3.6.1.4.1.57264.1.6", e.GithubWorkflowRef},
		} {
			if f.value != "" {
				add(f.name, f.value)
				add(f.oid, f.value)
			}
		}
	}
	for _, e := range r.LogEntries {
		if e.GetInclusionPromise() == nil {
			continue
		}
		add("Bundle", cosign.RekorBundle{
			SignedEntryTimestamp: e.GetInclusionPromise().GetSignedEntryTimestamp(),
			Payload: cosign.RekorBundlePayload{
				Body:           base64.StdEncoding.EncodeToString(e.GetCanonicalizedBody()),
				IntegratedTime: e.GetIntegratedTime(),
				LogIndex:       e.GetLogIndex(),
				LogID:          hex.EncodeToString(e.GetLogId().GetKeyId()),
			},
		})
		break
	}
	if len(r.RFC3161Timestamps) > 0 {
		add("RFC3161Timestamp", cosign.RFC3161Annotation{SignedRFC3161Timestamp: r.RFC3161Timestamps[0]})
	}
	return opt
}

func stringMap(m map[string]any) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}
