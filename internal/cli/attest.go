package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/attest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/verify"
)

type attestOptions struct {
	keyPath         string
	predicate       string
	statement       string
	typ             string
	replace         bool
	yes             bool
	newBundleFormat bool
	bundlePath      string
	maxPredicate    int64
	noUpload        bool
	log             logFlags
	keyless         keylessFlags
	registry        registryFlags
}

// defaultMaxPredicate caps a predicate (an SBOM of a large image is a few
// MiB); its bundle, base64 and all, must stay under what verifiers read.
const defaultMaxPredicate = 32 << 20

func (a *app) attestCommand() *cobra.Command {
	o := &attestOptions{}
	cmd := &cobra.Command{
		Use:   "attest [--key KEY] --type T --predicate FILE | --statement FILE IMAGE...",
		Short: "Attest to container images: sign an in-toto statement about each and store it in the registry",
		Long: `Attest to container images: the predicate (an SBOM, a vulnerability report, SLSA
provenance, ...) is checked against its --type, wrapped in an in-toto statement whose
subject is the image's digest, signed in a DSSE envelope (with --key, or keyless as
sign is), logged when a log is configured, and stored: as a Sigstore bundle referrer
(default), or with --new-bundle-format=false in cosign v2's sha256-<hex>.att image.

--type is one of ` + strings.Join(attest.ShortTypes(), ", ") + `, or a predicate type URI
(a JSON object predicate, stored as given). custom wraps the file as cosign does
({"Data": file, "Timestamp": now}).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.attest(cmd.Context(), o, args) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.keyPath, "key", "k", "", "encrypted private key file (none: keyless)")
	f.StringVar(&o.predicate, "predicate", "", "the predicate file (- for standard input)")
	f.StringVar(&o.statement, "statement", "", "a whole in-toto statement to sign instead (its subject must be the image)")
	f.StringVar(&o.typ, "type", "custom", "predicate type: "+strings.Join(attest.ShortTypes(), ", ")+", or a URI")
	f.BoolVar(&o.replace, "replace", false, "legacy format: replace attestations of the same predicate type")
	f.BoolVarP(&o.yes, "yes", "y", false, "skip confirmation prompts (Hallmark never prompts; accepted for cosign compatibility)")
	f.BoolVar(&o.newBundleFormat, "new-bundle-format", true, "store a Sigstore bundle as an OCI referrer (false: cosign v2 .att tag)")
	f.StringVar(&o.bundlePath, "bundle", "", "also write the bundle to this file (bundle format)")
	f.Int64Var(&o.maxPredicate, "max-predicate-size", defaultMaxPredicate, "largest predicate accepted, in bytes")
	f.BoolVar(&o.noUpload, "no-upload", false, "sign (and log) the attestation but do not store it: print it on standard output (the bundle, or with --new-bundle-format=false the DSSE envelope)")
	o.log.add(cmd)
	o.keyless.add(cmd)
	o.registry.add(cmd)
	notYet(cmd, append(hardwareKeyFlags, stringFlag("certificate", "attaching a certificate to a key attestation"),
		stringFlag("certificate-chain", "attaching a certificate chain"))...)
	return cmd
}

func (a *app) attest(ctx context.Context, o *attestOptions, images []string) error {
	if (o.predicate == "") == (o.statement == "") {
		return fmt.Errorf("%w: give exactly one of --predicate FILE and --statement FILE", errUsage)
	}
	if o.bundlePath != "" && len(images) > 1 {
		return fmt.Errorf("%w: --bundle writes one bundle: give one image with it", errUsage)
	}
	if o.maxPredicate <= 0 || o.maxPredicate > defaultMaxPredicate*3/2 {
		return fmt.Errorf("%w: --max-predicate-size %d: want 1 to %d bytes", errUsage, o.maxPredicate, defaultMaxPredicate*3/2)
	}
	if o.statement == "" {
		if _, err := attest.PredicateURI(o.typ); err != nil {
			return withCode(exitUsage, fmt.Errorf("--type: %w", err))
		}
	}
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	input := o.predicate
	if input == "" {
		input = o.statement
	}
	raw, err := a.readLimited(input, o.maxPredicate, "--max-predicate-size")
	if err != nil {
		return err
	}
	c, err := a.client(&o.registry)
	if err != nil {
		return err
	}
	refs := make([]name.Reference, len(images))
	for i, img := range images {
		if refs[i], err = c.ParseReference(img); err != nil {
			return withCode(exitUsage, err)
		}
	}
	// The predicate is checked, and every image resolved, before anyone is
	// asked to sign in or a certificate issued.
	var predicateType string
	var predicate json.RawMessage
	if o.statement != "" {
		st, err := cosign.ParseAttestationStatement(raw)
		if err != nil {
			return fmt.Errorf("--statement %s: %w", o.statement, err)
		}
		predicateType = st.PredicateType
	} else if predicateType, predicate, err = attest.Predicate(o.typ, raw, time.Now()); err != nil {
		return fmt.Errorf("--predicate %s: %w", o.predicate, err)
	}
	if predicateType == cosign.SignPredicateType {
		return fmt.Errorf("%w: predicate type %s is an image signature's; use sign", errUsage, predicateType)
	}
	if err := fitsBlob(len(raw) + len(predicate)); err != nil {
		return err
	}
	if o.replace && o.newBundleFormat {
		a.infof("--replace applies to the legacy .att image (--new-bundle-format=false); bundle referrers are added beside earlier ones")
	}
	targets, err := a.resolveTargets(ctx, c, refs, false, "attesting to")
	if err != nil {
		return err
	}
	signer, err := a.signerFor(ctx, o.keyPath, &o.log, &o.keyless)
	if err != nil {
		return err
	}
	format := verify.FormatBundle
	if !o.newBundleFormat {
		format = verify.FormatLegacy
	}
	for _, t := range targets {
		d, desc := t.d, t.desc
		statement := raw
		if o.statement == "" {
			_, hex, _ := strings.Cut(d.DigestStr(), ":")
			if statement, err = attest.NewStatement(d.Context().Name(), hex, predicateType, predicate); err != nil {
				return err
			}
		}
		if o.noUpload {
			out, err := signer.SignAttestation(ctx, d, format, statement, predicateType)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, string(out))
			a.infof("Attested %s (%s, %s format); not stored (--no-upload)", d, predicateType, format)
			if o.bundlePath != "" && format == verify.FormatBundle {
				if err := os.WriteFile(o.bundlePath, out, 0o644); err != nil {
					return err
				}
			}
			continue
		}
		res, err := signer.AttestImage(ctx, c, d, desc, format, statement, predicateType, o.replace)
		if err != nil {
			return registryExit(err, d.String())
		}
		a.infof("Attested %s (%s, %s format), stored at %s", d, predicateType, res.Format, res.Location)
		if o.bundlePath != "" && res.Bundle != nil {
			if err := os.WriteFile(o.bundlePath, res.Bundle, 0o644); err != nil {
				return err
			}
			a.infof("Wrote bundle to file %s", o.bundlePath)
		}
	}
	return nil
}

// fitsBlob refuses, before anyone signs in, an attestation whose bundle
// (the statement base64-encoded, plus material) could not be stored and read
// back: verifiers read blobs of at most cosign.MaxBlobSize.
func fitsBlob(statementBytes int) error {
	if est := statementBytes*4/3 + 64<<10; est > cosign.MaxBlobSize {
		return fmt.Errorf("%w: the attestation would be about %d MB, over the %d MB a verifier reads (custom predicates grow when escaped as JSON text)",
			errUsage, est>>20, cosign.MaxBlobSize>>20)
	}
	return nil
}

// readLimited reads a file (or standard input for "-") of at most max bytes.
func (a *app) readLimited(path string, max int64, flag string) ([]byte, error) {
	var r io.Reader = a.stdin
	what := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		defer f.Close()
		r, what = f, path
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is over %d bytes (%s)", what, max, flag)
	}
	return b, nil
}
