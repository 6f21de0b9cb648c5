package cli

import (
	"bufio"
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/keys"
)

func (a *app) generateKeyPairCommand() *cobra.Command {
	var prefix string
	var force bool
	cmd := &cobra.Command{
		Use:   "generate-key-pair",
		Short: "Generate an encrypted ECDSA P-256 key pair (cosign.key / cosign.pub)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 { // cosign's generate-key-pair k8s://NS/NAME (or a KMS reference)
				return fmt.Errorf("%w: generate-key-pair %s: key references (KMS, Kubernetes secrets) are not supported yet; keys are written to files (--output-key-prefix)", errUsage, args[0])
			}
			priv, err := keys.Generate()
			if err != nil {
				return err
			}
			return a.writeKeyPair(priv, prefix, force)
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "cosign", "write PREFIX.key and PREFIX.pub")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "overwrite existing key files without asking")
	notYet(cmd, stringFlag("kms", "keys in a KMS"))
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
	cmd.Flags().StringVarP(&prefix, "output-key-prefix", "o", "import-cosign", "write PREFIX.key and PREFIX.pub")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "overwrite existing key files without asking")
	cmd.Flags().BoolVarP(&force, "yes", "y", false, "overwrite existing key files without asking (cosign's flag)")
	return cmd
}

func (a *app) writeKeyPair(priv crypto.Signer, prefix string, force bool) error {
	keyPath, pubPath := prefix+".key", prefix+".pub"
	if !force {
		for _, p := range []string{keyPath, pubPath} {
			if _, err := os.Stat(p); err != nil {
				continue
			}
			if !a.isTTY() {
				return fmt.Errorf("%s already exists: refusing to overwrite it (pass --force to replace it)", p)
			}
			ok, err := a.confirm(fmt.Sprintf("WARNING: File %s already exists. Overwrite?", p))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%s already exists and you declined to overwrite it", p)
			}
			force = true
			break
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
func (a *app) loadPrivateKey(ref string) (crypto.Signer, error) {
	data, err := a.readKeyRef(ref, "private key")
	if err != nil {
		return nil, err
	}
	pw, err := a.password(false, ref)
	if err != nil {
		return nil, err
	}
	priv, err := keys.DecryptPrivateKey(data, pw)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", ref, err)
	}
	return priv, nil
}

// loadPublicKey reads a PEM public key (or certificate) named by a key
// reference.
func (a *app) loadPublicKey(ref string) (crypto.PublicKey, error) {
	data, err := a.readKeyRef(ref, "public key")
	if err != nil {
		return nil, err
	}
	pub, err := keys.ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", ref, err)
	}
	return pub, nil
}

// kmsSchemes are the key references cosign resolves through a KMS, a
// Kubernetes secret or a PKCS#11 token; Hallmark names them rather than
// failing to open a file of that name.
var kmsSchemes = []string{"awskms://", "gcpkms://", "azurekms://", "hashivault://", "openbao://", "k8s://", "pkcs11:", "gitlab://"}

// readKeyRef reads the PEM a key reference names: env://VAR (the PEM in an
// environment variable, as CI systems pass secrets) or a file.
func (a *app) readKeyRef(ref, what string) ([]byte, error) {
	if name, ok := strings.CutPrefix(ref, "env://"); ok {
		v, set := a.lookupEnv(name)
		if !set || v == "" {
			return nil, fmt.Errorf("%w: %s %s: environment variable %s is not set", errUsage, what, ref, name)
		}
		return []byte(v), nil
	}
	for _, s := range kmsSchemes {
		if strings.HasPrefix(ref, s) {
			return nil, fmt.Errorf("%w: %s %s: %s key references (KMS, Kubernetes secrets, PKCS#11) are not supported yet; export the key to a file or env://VAR", errUsage, what, ref, strings.TrimSuffix(s, "://"))
		}
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", what, ref, err)
	}
	return data, nil
}

// confirm asks a yes/no question on the terminal, as cosign does: only y or
// Y is yes; an empty answer is no.
func (a *app) confirm(question string) (bool, error) {
	fmt.Fprintf(a.stderr, "%s\nAre you sure you would like to continue? [y/N] ", question)
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	switch strings.TrimSpace(line) {
	case "y", "Y":
		return true, nil
	case "", "n", "N":
		return false, nil
	}
	return false, fmt.Errorf("%w: answer %q: want y or n", errUsage, strings.TrimSpace(line))
}
