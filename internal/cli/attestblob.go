package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/attest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/sign"
	"hallmark.dev/hallmark/pkg/verify"
)

type attestBlobOptions struct {
	keyPath, predicate, statement, typ, bundlePath, hash string
	outSignature, outAttestation, outCertificate         string
	newBundleFormat, yes                                 bool
	maxPredicate                                         int64
	log                                                  logFlags
	keyless                                              keylessFlags
}

func (a *app) attestBlobCommand() *cobra.Command {
	o := &attestBlobOptions{}
	cmd := &cobra.Command{
		Use:   "attest-blob [--key KEY] --type T --predicate FILE | --statement FILE --bundle OUT (FILE | -)",
		Short: "Attest to a file: sign an in-toto statement about it and write a Sigstore bundle",
		Long: `Attest to a file as attest does to an image: the statement's subject is the file's
name (without directories) and SHA-256 (or --hash), and the signed statement is written
as a Sigstore bundle to --bundle.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.attestBlob(cmd.Context(), o, args[0]) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.keyPath, "key", "k", "", "private key (none: keyless)")
	f.StringVar(&o.predicate, "predicate", "", "the predicate file (- for standard input)")
	f.StringVar(&o.statement, "statement", "", "a whole in-toto statement to sign instead (its subject must be the file)")
	f.StringVar(&o.typ, "type", "custom", "predicate type: "+strings.Join(attest.ShortTypes(), ", ")+", or a URI")
	f.StringVar(&o.bundlePath, "bundle", "", "write the Sigstore bundle to this file")
	f.StringVar(&o.hash, "hash", "", "the file's SHA-256 in hex, instead of reading the file")
	f.BoolVar(&o.newBundleFormat, "new-bundle-format", true, "write a Sigstore bundle (false: cosign v2's outputs: the DSSE envelope on standard output or --output-signature, a legacy --bundle)")
	f.StringVar(&o.outSignature, "output-signature", "", "--new-bundle-format=false: write the DSSE envelope here instead of standard output")
	f.StringVar(&o.outAttestation, "output-attestation", "", "--new-bundle-format=false: write the signed in-toto statement here")
	f.StringVar(&o.outCertificate, "output-certificate", "", "--new-bundle-format=false: write the signing certificate (PEM) here (keyless)")
	f.BoolVarP(&o.yes, "yes", "y", false, "accepted for cosign compatibility")
	f.Int64Var(&o.maxPredicate, "max-predicate-size", defaultMaxPredicate, "largest predicate accepted, in bytes")
	o.log.add(cmd)
	o.keyless.add(cmd)
	notYet(cmd, hardwareKeyFlags...)
	return cmd
}

func (a *app) attestBlob(ctx context.Context, o *attestBlobOptions, arg string) error {
	if o.newBundleFormat && o.bundlePath == "" {
		return fmt.Errorf("%w: give --bundle FILE to say where the attestation goes", errUsage)
	}
	if o.newBundleFormat && (o.outSignature != "" || o.outAttestation != "" || o.outCertificate != "") {
		return fmt.Errorf("%w: --output-signature, --output-attestation and --output-certificate are cosign v2's outputs: give --new-bundle-format=false with them (a bundle carries everything)", errUsage)
	}
	if (o.predicate == "") == (o.statement == "") {
		return fmt.Errorf("%w: give exactly one of --predicate FILE and --statement FILE", errUsage)
	}
	var sum []byte
	if o.hash != "" {
		h, err := hex.DecodeString(o.hash)
		if err != nil || len(h) != sha256.Size {
			return fmt.Errorf("%w: --hash %q is not a SHA-256 in hex", errUsage, o.hash)
		}
		sum = h
	} else {
		data, err := a.readBlob(arg)
		if err != nil {
			return err
		}
		s := sha256.Sum256(data)
		sum = s[:]
	}
	input := o.predicate
	if input == "" {
		input = o.statement
	}
	raw, err := a.readLimited(input, o.maxPredicate, "--max-predicate-size")
	if err != nil {
		return err
	}
	var statement []byte
	var predicateType string
	if o.statement != "" {
		st, err := cosign.ParseAttestationStatement(raw)
		if err != nil {
			return fmt.Errorf("--statement %s: %w", o.statement, err)
		}
		statement, predicateType = raw, st.PredicateType
	} else {
		pt, predicate, err := attest.Predicate(o.typ, raw, time.Now())
		if err != nil {
			return fmt.Errorf("--predicate %s: %w", o.predicate, err)
		}
		if statement, err = attest.NewStatement(filepath.Base(arg), hex.EncodeToString(sum), pt, predicate); err != nil {
			return err
		}
		predicateType = pt
	}
	if err := fitsBlob(len(statement)); err != nil {
		return err
	}
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	s, err := a.signerFor(ctx, o.keyPath, &o.log, &o.keyless)
	if err != nil {
		return err
	}
	b, err := s.AttestBlob(ctx, statement, sum, predicateType)
	if err != nil {
		return err
	}
	if o.newBundleFormat {
		if err := writeFileMode(o.bundlePath, b, 0o600, true); err != nil {
			return err
		}
		a.infof("Wrote bundle to file %s", o.bundlePath)
		return nil
	}
	return a.legacyAttestationOutputs(o, b, statement)
}

// legacyAttestationOutputs writes cosign v2's outputs of attest-blob.
func (a *app) legacyAttestationOutputs(o *attestBlobOptions, bundleJSON, statement []byte) error {
	b, err := cosign.ParseBundle(bundleJSON)
	if err != nil {
		return err
	}
	env, legacy, certPEM, err := sign.LegacyAttestationOutputs(b)
	if err != nil {
		return err
	}
	if o.outCertificate != "" && certPEM == nil {
		return fmt.Errorf("%w: --output-certificate: a key-signed attestation has no certificate", errUsage)
	}
	for _, out := range []struct {
		path, what string
		data       []byte
	}{{o.bundlePath, "legacy bundle", legacy}, {o.outSignature, "DSSE envelope", env}, {o.outAttestation, "statement", statement}, {o.outCertificate, "certificate", certPEM}} {
		if out.path == "" {
			continue
		}
		if err := writeFileMode(out.path, out.data, 0o600, true); err != nil {
			return err
		}
		a.infof("Wrote the %s to %s", out.what, out.path)
	}
	if o.outSignature == "" {
		fmt.Fprintln(a.stdout, string(env))
	}
	return nil
}

type verifyBlobAttestationOptions struct {
	auth                               authorityFlags
	bundlePath, signature, typ, digest string
	digestAlg                          string
	checkClaims, newBundleFormat       bool
}

func (a *app) verifyBlobAttestationCommand() *cobra.Command {
	o := &verifyBlobAttestationOptions{}
	cmd := &cobra.Command{
		Use:   "verify-blob-attestation (--key PUB | --certificate-identity ... --trusted-root FILE) --bundle FILE [--type T] (FILE | --digest HEX)",
		Short: "Verify an attestation about a file",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg := ""
			if len(args) == 1 {
				arg = args[0]
			}
			return a.verifyBlobAttestation(o, arg)
		},
	}
	f := cmd.Flags()
	o.auth.add(cmd)
	f.StringVar(&o.bundlePath, "bundle", "", "the attestation's Sigstore bundle")
	f.StringVar(&o.signature, "signature", "", "a DSSE envelope (JSON) instead of a bundle (with --key)")
	f.StringVar(&o.typ, "type", "custom", "predicate type the attestation must have: "+strings.Join(attest.ShortTypes(), ", ")+", or a URI")
	f.StringVar(&o.digest, "digest", "", "the file's digest in hex, instead of the file")
	f.StringVar(&o.digestAlg, "digestAlg", "sha256", "the algorithm of --digest")
	f.BoolVar(&o.checkClaims, "check-claims", true, "check that the statement's subject is the file")
	f.BoolVar(&o.newBundleFormat, "new-bundle-format", true, "accepted for cosign compatibility")
	return cmd
}

func (a *app) verifyBlobAttestation(o *verifyBlobAttestationOptions, arg string) error {
	if (o.bundlePath == "") == (o.signature == "") {
		return fmt.Errorf("%w: give one of --bundle FILE and --signature FILE", errUsage)
	}
	predicateType, err := attest.PredicateURI(o.typ)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--type: %w", err))
	}
	var digest string
	subject := arg // the artifact, as errors name it
	if subject == "" {
		subject = "the artifact"
	}
	switch {
	case o.digest != "":
		if _, err := hex.DecodeString(o.digest); err != nil || o.digestAlg == "" {
			return fmt.Errorf("%w: --digest %q (--digestAlg %q) is not a digest in hex", errUsage, o.digest, o.digestAlg)
		}
		digest = o.digestAlg + ":" + strings.ToLower(o.digest)
		subject = digest
	case arg != "":
		data, err := a.readBlob(arg)
		if err != nil {
			return err
		}
		s := sha256.Sum256(data)
		digest = "sha256:" + hex.EncodeToString(s[:])
	case o.checkClaims:
		return fmt.Errorf("%w: give the file (or --digest HEX) the attestation is about", errUsage)
	}
	v, err := a.verifier(&o.auth)
	if err != nil {
		return err
	}
	p := verify.AttestationPolicy{Digest: digest, PredicateType: predicateType, IgnoreClaimsUnsafe: !o.checkClaims}
	var att *verify.Attestation
	if o.bundlePath != "" {
		raw, err := os.ReadFile(o.bundlePath)
		if err != nil {
			return fmt.Errorf("reading --bundle: %w", err)
		}
		b, err := cosign.ParseBundle(raw)
		if err != nil {
			return fmt.Errorf("--bundle %s: %w", o.bundlePath, err)
		}
		att, err = v.VerifyAttestationBundle(b, p)
		if err != nil {
			return withCode(exitNoMatchingSig, fmt.Errorf("%s does not verify against attestation bundle %s: %w", subject, o.bundlePath, err))
		}
	} else {
		env, err := os.ReadFile(o.signature)
		if err != nil {
			return fmt.Errorf("reading --signature: %w", err)
		}
		if att, err = v.VerifyLegacyAttestation(env, nil, p); err != nil {
			return withCode(exitNoMatchingSig, fmt.Errorf("%s does not verify against attestation %s: %w", subject, o.signature, err))
		}
	}
	if c := att.Certificate; c != nil {
		a.infof("Certificate subject: %s", c.Subject)
		a.infof("Certificate issuer URL: %s", c.Extensions.Issuer)
	}
	a.infof("Verified OK")
	return nil
}
