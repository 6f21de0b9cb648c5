package cli

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
	var keyPath, bundlePath, trustedRoot string
	var ignoreTlog bool
	cmd := &cobra.Command{
		Use:   "verify-blob --key PUB --bundle BUNDLE (FILE | sha256:<hex>)",
		Short: "Verify a file (or its SHA-256 digest) against a Sigstore bundle",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" || bundlePath == "" {
				return fmt.Errorf("%w: --key and --bundle are required", errUsage)
			}
			vopts, err := verifierOptions(trustedRoot)
			if err != nil {
				return err
			}
			blob, err := readBlobArg(args[0])
			if err != nil {
				return err
			}
			pub, err := loadPublicKey(keyPath)
			if err != nil {
				return err
			}
			v, err := verify.NewKeyVerifier(pub, vopts...)
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
			if err := v.VerifyBlobBundle(b, blob, ignoreTlog); err != nil {
				return withCode(exitNoMatchingSig, fmt.Errorf("%s does not verify against bundle %s: %w", args[0], bundlePath, err))
			}
			fmt.Fprintln(a.stderr, "Verified OK")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&keyPath, "key", "k", "", "PEM public key (or certificate) to verify with")
	f.StringVar(&bundlePath, "bundle", "", "Sigstore bundle written by sign-blob")
	f.StringVar(&trustedRoot, "trusted-root", "", "Sigstore trusted root JSON (logs, CAs and TSAs to trust)")
	f.BoolVar(&ignoreTlog, "insecure-ignore-tlog", false, "accept a signature without a verified transparency log entry")
	return cmd
}

// readBlobArg reads FILE, or takes sha256:<hex> as the artifact's digest.
func readBlobArg(arg string) (verify.Blob, error) {
	if h, ok := strings.CutPrefix(arg, "sha256:"); ok {
		d, err := hex.DecodeString(h)
		if err != nil || len(d) != sha256.Size {
			return verify.Blob{}, fmt.Errorf("%w: %q is not sha256: followed by 64 hex digits", errUsage, arg)
		}
		return verify.Blob{SHA256: d}, nil
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return verify.Blob{}, fmt.Errorf("reading blob %s: %w", arg, err)
	}
	sum := sha256.Sum256(data)
	return verify.Blob{Data: data, SHA256: sum[:]}, nil
}
