package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/verify"
)

type verifyOptions struct {
	keyPath      string
	annotations  []string
	output       string
	ignoreTlog   bool
	trustedRoot  string
	registry     registryFlags
	bundleFormat bool
}

func (a *app) verifyCommand() *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify --key PUB [-a key=value]... IMAGE...",
		Short: "Verify the signatures of container images",
		Long: `Verify that each image has a signature, in either storage format, that verifies
under the public key, signs the image's own digest and carries the requested
annotations. Verified payloads are printed on standard output (cosign's JSON
shape), the checks made on standard error.

Exit codes: 10 no signatures, 11 no such image, 12 no signature verified,
14 the registry failed or refused (its status is named), 1 anything else.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.verify(cmd.Context(), o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.keyPath, "key", "k", "", "PEM public key (or certificate) to verify with")
	f.StringArrayVarP(&o.annotations, "annotations", "a", nil, "key=value pairs the signature must carry")
	f.StringVarP(&o.output, "output", "o", "json", "output format: json or text")
	f.BoolVar(&o.ignoreTlog, "insecure-ignore-tlog", false, "accept signatures without a verified transparency log entry")
	f.StringVar(&o.trustedRoot, "trusted-root", "", "Sigstore trusted root JSON (logs, CAs and TSAs to trust)")
	f.BoolVar(&o.bundleFormat, "new-bundle-format", true, "accepted for cosign compatibility: both formats are always looked for")
	o.registry.add(cmd)
	return cmd
}

// candidateFailure is why one stored signature did not verify.
type candidateFailure struct {
	where string
	err   error
}

func (a *app) verify(ctx context.Context, o *verifyOptions, images []string) error {
	if o.keyPath == "" {
		return fmt.Errorf("%w: --key is required (keyless verification is not available yet)", errUsage)
	}
	if o.output != "json" && o.output != "text" {
		return fmt.Errorf("%w: --output %q: want json or text", errUsage, o.output)
	}
	want, err := parseAnnotations(o.annotations)
	if err != nil {
		return err
	}
	vopts, err := verifierOptions(o.trustedRoot)
	if err != nil {
		return err
	}
	pub, err := loadPublicKey(o.keyPath)
	if err != nil {
		return err
	}
	v, err := verify.NewKeyVerifier(pub, vopts...)
	if err != nil {
		return fmt.Errorf("public key %s: %w", o.keyPath, err)
	}
	c, err := a.client(&o.registry)
	if err != nil {
		return err
	}
	for _, img := range images {
		ref, err := c.ParseReference(img)
		if err != nil {
			return withCode(exitUsage, err)
		}
		results, err := a.verifyImage(ctx, c, v, ref, verify.Policy{Annotations: stringMap(want), IgnoreTlogUnsafe: o.ignoreTlog})
		if err != nil {
			return err
		}
		a.printChecks(ref.String(), o, len(want) > 0)
		if err := a.printResults(ref, results, o.output); err != nil {
			return err
		}
	}
	return nil
}

// verifyImage finds every signature of ref in both layouts and returns the
// ones that verify, or an error with the exit code cosign would use.
func (a *app) verifyImage(ctx context.Context, c *oci.Client, v *verify.Verifier, ref name.Reference, p verify.Policy) ([]*verify.Result, error) {
	d, _, err := c.Resolve(ctx, ref)
	if err != nil {
		return nil, registryExit(err, ref.String())
	}
	p.Digest = d.DigestStr()
	bundles, legacy, err := fetchSignatures(ctx, c, d)
	if err != nil {
		return nil, registryExit(err, ref.String())
	}
	var (
		results  []*verify.Result
		failures []candidateFailure
		seen     int
	)
	for _, sb := range bundles {
		if sb.PredicateType != "" && sb.PredicateType != cosign.SignPredicateType {
			continue // an attestation, not a signature
		}
		seen++
		where := "bundle referrer " + sb.Manifest.String()
		b, err := cosign.ParseBundle(sb.Bytes)
		if err != nil {
			failures = append(failures, candidateFailure{where, err})
			continue
		}
		r, err := v.VerifyImageBundle(b, p)
		if err != nil {
			failures = append(failures, candidateFailure{where, err})
			continue
		}
		results = append(results, r)
	}
	for _, ls := range legacy {
		seen++
		where := "legacy signature layer " + ls.Layer.String() + " in " + c.LegacyTag(d).String()
		r, err := v.VerifyLegacy(verify.LegacySignature{
			Payload:     ls.Payload,
			Signature:   ls.Annotations[cosign.SignatureAnnotation],
			RekorBundle: ls.Annotations[cosign.LegacyBundleAnnotation],
		}, p)
		if err != nil {
			failures = append(failures, candidateFailure{where, err})
			continue
		}
		results = append(results, r)
	}
	if seen == 0 {
		return nil, withCodef(exitNoSignatures, "no signatures found for %s (%s): looked for bundle referrers and for %s",
			ref, d.DigestStr(), c.LegacyTag(d))
	}
	if len(results) == 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "no matching signatures for %s (%s): %d found, none verified:", ref, d.DigestStr(), seen)
		for _, f := range failures {
			fmt.Fprintf(&b, "\n  - %s: %v", f.where, f.err)
		}
		return nil, withCode(exitNoMatchingSig, errors.New(b.String()))
	}
	return results, nil
}

// fetchSignatures reads both layouts at once: they are independent round
// trips, and verification latency is what admission waits on.
func fetchSignatures(ctx context.Context, c *oci.Client, d name.Digest) ([]oci.StoredBundle, []oci.LegacySignature, error) {
	type legacyResult struct {
		sigs []oci.LegacySignature
		err  error
	}
	ch := make(chan legacyResult, 1)
	go func() {
		s, err := c.LegacySignatures(ctx, d)
		ch <- legacyResult{s, err}
	}()
	bundles, berr := c.Bundles(ctx, d)
	lr := <-ch
	if berr != nil {
		return nil, nil, berr
	}
	if lr.err != nil {
		return nil, nil, lr.err
	}
	return bundles, lr.sigs, nil
}

func (a *app) printChecks(ref string, o *verifyOptions, annotations bool) {
	a.infof("\nVerification for %s --", ref)
	a.infof("The following checks were performed on each of these signatures:")
	if annotations {
		a.infof("  - The specified annotations were verified.")
	}
	a.infof("  - The cosign claims were validated")
	if o.ignoreTlog {
		a.infof("  - The transparency log was NOT checked (--insecure-ignore-tlog)")
	} else {
		a.infof("  - Existence of the claims in the transparency log was verified offline")
	}
	a.infof("  - The signatures were verified against the specified public key")
}

// printResults prints verified payloads in cosign's shape: simple-signing
// JSON, with a bundle's statement shown as cosign v3 shows it.
func (a *app) printResults(ref name.Reference, results []*verify.Result, output string) error {
	out := make([]cosign.SimpleSigning, 0, len(results))
	for _, r := range results {
		identity := r.Identity
		if r.Format == verify.FormatBundle {
			identity = ref.Name()
		}
		var optional map[string]any
		if len(r.Annotations) > 0 {
			optional = r.Annotations
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
