package cli

import (
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/keys"
)

func (a *app) generateKeyPairCommand() *cobra.Command {
	var prefix string
	var force bool
	cmd := &cobra.Command{
		Use:   "generate-key-pair",
		Short: "Generate an encrypted ECDSA P-256 key pair (cosign.key / cosign.pub)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			priv, err := keys.Generate()
			if err != nil {
				return err
			}
			return a.writeKeyPair(priv, prefix, force)
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "cosign", "write PREFIX.key and PREFIX.pub")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "overwrite existing key files")
	return cmd
}

func (a *app) importKeyPairCommand() *cobra.Command {
	var prefix, keyPath string
	var force bool
	cmd := &cobra.Command{
		Use:   "import-key-pair --key FILE",
		Short: "Import a PEM private key (PKCS#1, SEC 1 or PKCS#8: ECDSA, RSA, Ed25519) as an encrypted cosign key pair",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyPath == "" {
				return fmt.Errorf("%w: --key is required", errUsage)
			}
			data, err := os.ReadFile(keyPath)
			if err != nil {
				return fmt.Errorf("reading key %s: %w", keyPath, err)
			}
			priv, err := keys.ParsePlainPrivateKey(data)
			if err != nil {
				return fmt.Errorf("key %s: %w", keyPath, err)
			}
			return a.writeKeyPair(priv, prefix, force)
		},
	}
	cmd.Flags().StringVarP(&keyPath, "key", "k", "", "PEM private key to import")
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "import-cosign", "write PREFIX.key and PREFIX.pub")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "overwrite existing key files")
	return cmd
}

func (a *app) writeKeyPair(priv crypto.Signer, prefix string, force bool) error {
	keyPath, pubPath := prefix+".key", prefix+".pub"
	if !force {
		for _, p := range []string{keyPath, pubPath} {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s already exists: refusing to overwrite it (pass --force to replace it)", p)
			}
		}
	}
	pw, err := a.password(true, "private key")
	if err != nil {
		return err
	}
	encPriv, err := keys.EncryptPrivateKey(priv, pw)
	if err != nil {
		return err
	}
	pub, err := keys.MarshalPublicKey(priv.Public())
	if err != nil {
		return err
	}
	if err := writeFileMode(keyPath, encPriv, 0o600, force); err != nil {
		return err
	}
	if err := writeFileMode(pubPath, pub, 0o644, force); err != nil {
		return err
	}
	a.infof("Private key written to %s", keyPath)
	a.infof("Public key written to %s", pubPath)
	return nil
}

// writeFileMode writes data to path with mode, refusing to replace an
// existing file unless force is set (checked atomically with O_EXCL).
func writeFileMode(path string, data []byte, mode fs.FileMode, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, mode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: refusing to overwrite it (pass --force to replace it)", path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

func (a *app) publicKeyCommand() *cobra.Command {
	var keyPath, out string
	cmd := &cobra.Command{
		Use:   "public-key --key FILE",
		Short: "Print the public key of an encrypted private key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyPath == "" {
				return fmt.Errorf("%w: --key is required", errUsage)
			}
			priv, err := a.loadPrivateKey(keyPath)
			if err != nil {
				return err
			}
			pub, err := keys.MarshalPublicKey(priv.Public())
			if err != nil {
				return err
			}
			if out != "" {
				return writeFileMode(out, pub, 0o644, true)
			}
			_, err = a.stdout.Write(pub)
			return err
		},
	}
	cmd.Flags().StringVarP(&keyPath, "key", "k", "", "encrypted private key file")
	cmd.Flags().StringVar(&out, "outfile", "", "write the public key to this file instead of standard output")
	return cmd
}

// loadPrivateKey reads and decrypts a private key file, naming the file in
// every error.
func (a *app) loadPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading private key %s: %w", path, err)
	}
	pw, err := a.password(false, path)
	if err != nil {
		return nil, err
	}
	priv, err := keys.DecryptPrivateKey(data, pw)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return priv, nil
}

// loadPublicKey reads a PEM public key (or certificate) file.
func loadPublicKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading public key %s: %w", path, err)
	}
	pub, err := keys.ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return pub, nil
}
