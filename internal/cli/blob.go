package cli

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/sign"
	"hallmark.dev/hallmark/pkg/verify"
)

func (a *app) signBlobCommand() *cobra.Command {
	var keyPath, bundlePath, sigPath string
	var yes bool
	var lf logFlags
	cmd := &cobra.Command{
		Use:   "sign-blob --key KEY --bundle OUT FILE",
		Short: "Sign a file and write a Sigstore bundle",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" {
				return fmt.Errorf("%w: --key is required", errUsage)
			}
			if bundlePath == "" && sigPath == "" {
				return fmt.Errorf("%w: give --bundle FILE (or --output-signature FILE) to say where the signature goes", errUsage)
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("reading blob %s: %w", args[0], err)
			}
			priv, err := a.loadPrivateKey(keyPath)
			if err != nil {
				return err
			}
			signOpts, err := a.signerOptions(&lf)
			if err != nil {
				return err
			}
			s, err := sign.New(priv, signOpts...)
			if err != nil {
				return err
			}
			bundle, sig, err := s.SignBlob(cmd.Context(), data)
			if err != nil {
				return err
			}
			if bundlePath != "" {
				if err := writeFileMode(bundlePath, bundle, 0o644, true); err != nil {
					return err
				}
				a.infof("Wrote bundle to %s", bundlePath)
			}
			if sigPath != "" {
				if err := writeFileMode(sigPath, []byte(base64.StdEncoding.EncodeToString(sig)), 0o644, true); err != nil {
					return err
				}
				a.infof("Wrote signature to %s", sigPath)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&keyPath, "key", "k", "", "encrypted private key file")
	f.StringVar(&bundlePath, "bundle", "", "write the Sigstore bundle to this file")
	f.StringVar(&sigPath, "output-signature", "", "also write the base64 signature to this file")
	f.BoolVarP(&yes, "yes", "y", false, "skip confirmation prompts (accepted for cosign compatibility)")
	lf.add(cmd)
	return cmd
}

func (a *app) verifyBlobCommand() *cobra.Command {
	var (
		auth       authorityFlags
		bundlePath string
	)
	cmd := &cobra.Command{
		Use:   "verify-blob (--key PUB | --certificate-identity ID --certificate-oidc-issuer URL --trusted-root FILE) --bundle BUNDLE (FILE | sha256:<hex>)",
		Short: "Verify a file (or its digest) against a Sigstore bundle",
		Long: `Verify a file, or an artifact known by its digest (sha256:<hex>, or sha384: and
sha512: for in-toto bundles), against a Sigstore bundle: a signature over the
file, or a DSSE envelope over an in-toto statement naming the file as a subject.
Keyless bundles verify under --trusted-root; nothing is fetched.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundlePath == "" {
				return fmt.Errorf("%w: --bundle is required", errUsage)
			}
			v, err := a.verifier(&auth)
			if err != nil {
				return err
			}
			blob, err := readBlobArg(args[0])
			if err != nil {
				return err
			}
			raw, err := os.ReadFile(bundlePath)
			if err != nil {
				return fmt.Errorf("reading bundle %s: %w", bundlePath, err)
			}
			b, err := cosign.ParseBundle(raw)
			if err != nil {
				return fmt.Errorf("bundle %s: %w", bundlePath, err)
			}
			r, err := v.VerifyBlobBundle(b, blob)
			if err != nil {
				code := exitNoMatchingSig
				if errors.Is(err, verify.ErrNoCertificate) {
					code = exitNoCertificate
				}
				return withCode(code, fmt.Errorf("%s does not verify against bundle %s: %w", args[0], bundlePath, err))
			}
			if c := r.Certificate; c != nil {
				a.infof("Certificate identity verified: subject %q, issuer %q", c.Subject, c.Extensions.Issuer)
			}
			fmt.Fprintln(a.stderr, "Verified OK")
			return nil
		},
	}
	auth.add(cmd)
	cmd.Flags().StringVar(&bundlePath, "bundle", "", "Sigstore bundle (written by sign-blob, cosign or any Sigstore client)")
	return cmd
}

// readBlobArg reads FILE, or takes sha256:<hex> (sha384:, sha512:) as the
// artifact's digest. As in the conformance protocol, an argument that looks
// like a digest but names an existing file is the file.
func readBlobArg(arg string) (verify.Blob, error) {
	if alg, h, ok := strings.Cut(arg, ":"); ok {
		size := map[string]int{"sha256": sha256.Size, "sha384": sha512.Size384, "sha512": sha512.Size}[alg]
		if _, statErr := os.Stat(arg); size > 0 && statErr != nil {
			d, err := hex.DecodeString(h)
			if err != nil || len(d) != size {
				return verify.Blob{}, fmt.Errorf("%w: %q is not %s: followed by %d hex digits", errUsage, arg, alg, 2*size)
			}
			return verify.BlobDigest(alg, d), nil
		}
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return verify.Blob{}, fmt.Errorf("reading blob %s: %w", arg, err)
	}
	return verify.BlobData(data), nil
}
