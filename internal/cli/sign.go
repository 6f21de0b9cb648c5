package cli

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/sign"
	"hallmark.dev/hallmark/pkg/verify"
)

type signOptions struct {
	keyPath         string
	annotations     []string
	yes             bool
	newBundleFormat bool
	recursive       bool
	referrersMode   referrersMode
	log             logFlags
	keyless         keylessFlags
	registry        registryFlags
}

func (a *app) signCommand() *cobra.Command {
	o := &signOptions{}
	cmd := &cobra.Command{
		Use:   "sign [--key KEY] [-a key=value]... IMAGE...",
		Short: "Sign container images and store the signatures in the registry",
		Long: `Sign container images and store the signatures beside them: with --key, or
keyless (no --key): an identity token (--identity-token, SIGSTORE_ID_TOKEN, the
GitHub Actions token, or a sign-in with the OIDC issuer) gets a short-lived
certificate for a fresh key from the CA, and the signature is logged and
timestamped as --signing-config says.

A tag is resolved to its digest and the digest is signed. The default format is
cosign v3's: a Sigstore bundle stored as an OCI 1.1 referrer (or under the
sha256-<hex> referrers tag on registries without the referrers API).
--new-bundle-format=false writes cosign v2's sha256-<hex>.sig tag instead.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.sign(cmd.Context(), o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.keyPath, "key", "k", "", "encrypted private key file")
	f.StringSliceVarP(&o.annotations, "annotations", "a", nil, "extra key=value pairs to sign (comma-separated or repeated)")
	f.BoolVarP(&o.yes, "yes", "y", false, "skip confirmation prompts (Hallmark never prompts; accepted for cosign compatibility)")
	f.BoolVar(&o.newBundleFormat, "new-bundle-format", true, "store a Sigstore bundle as an OCI referrer (false: cosign v2 .sig tag)")
	f.BoolVarP(&o.recursive, "recursive", "r", false, "when IMAGE is an index, also sign each manifest it lists")
	f.Var(&o.referrersMode, "registry-referrers-mode", "where legacy (.sig) signatures go: legacy (the .sig tag); oci-1-1 (needs COSIGN_EXPERIMENTAL=1) is not supported yet")
	o.log.add(cmd)
	o.keyless.add(cmd)
	o.registry.add(cmd)
	notYet(cmd, append(slices.Clone(hardwareKeyFlags),
		stringFlag("certificate", "attaching a certificate to a key signature"), stringFlag("certificate-chain", "attaching a certificate chain"),
		stringFlag("payload", "signing a payload given as a file"), stringFlag("output-payload", "writing the signed payload to a file"),
		stringFlag("output-signature", "writing image signatures to files"), stringFlag("output-certificate", "writing image certificates to files"),
		stringFlag("attachment", "signing attachments"))...)
	return cmd
}

func (a *app) sign(ctx context.Context, o *signOptions, images []string) error {
	if o.referrersMode == "oci-1-1" {
		if !truthy(a.getenv("COSIGN_EXPERIMENTAL")) {
			return fmt.Errorf("%w: --registry-referrers-mode oci-1-1 needs COSIGN_EXPERIMENTAL=1", errUsage)
		}
		return fmt.Errorf("%w: --registry-referrers-mode oci-1-1 (legacy signatures as OCI referrers) is not supported yet: the bundle format, the default, is stored as an OCI 1.1 referrer", errUsage)
	}
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	ann, err := parseAnnotations(o.annotations)
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
	targets, err := a.resolveTargets(ctx, c, refs, o.recursive, "signing")
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
		res, err := signer.SignImage(ctx, c, t.d, t.desc, format, ann)
		if err != nil {
			return registryExit(err, t.d.String())
		}
		a.infof("Signed %s (%s format), stored at %s", t.d, res.Format, res.Location)
	}
	return nil
}

// signTarget is a manifest to sign: its digest and descriptor.
type signTarget struct {
	d    name.Digest
	desc *v1.Descriptor
}

// resolveTargets resolves every image (with recursive, every child of an
// index too) before anything is signed: a key unlocked, or a certificate
// issued and logged by the CA, for a missing image would be for nothing.
// verb says, for an image named by tag, what is done to its digest.
func (a *app) resolveTargets(ctx context.Context, c *oci.Client, refs []name.Reference, recursive bool, verb string) ([]signTarget, error) {
	var targets []signTarget
	for _, ref := range refs {
		d, desc, err := c.Resolve(ctx, ref)
		if err != nil {
			return nil, registryExit(err, ref.String())
		}
		if _, isTag := ref.(name.Tag); isTag {
			a.infof("%s is a tag: %s the digest it points to now, %s (name the digest to be sure what you sign)", ref, verb, d.DigestStr())
		}
		targets = append(targets, signTarget{d, desc})
		if !recursive {
			continue
		}
		children, err := c.Children(ctx, d)
		if err != nil {
			return nil, registryExit(err, d.String())
		}
		for _, child := range children {
			_, cdesc, err := c.Resolve(ctx, child)
			if err != nil {
				return nil, registryExit(err, child.String())
			}
			targets = append(targets, signTarget{child, cdesc})
		}
	}
	return targets, nil
}

// registryExit maps registry errors to their exit codes.
func registryExit(err error, ref string) error {
	var rerr *oci.RegistryError
	switch {
	case errors.As(err, &rerr):
		return withCode(exitRegistryFailure, err)
	case oci.IsNotFound(err):
		return withCodef(exitNoSuchTag, "%s: no such image (tag or digest not found in the registry)", ref)
	}
	return err
}

// referrersMode is cosign's --registry-referrers-mode: legacy or oci-1-1.
type referrersMode string

func (m *referrersMode) String() string { return string(*m) }
func (m *referrersMode) Type() string   { return "registryReferrersMode" }
func (m *referrersMode) Set(s string) error {
	if s != "legacy" && s != "oci-1-1" {
		return fmt.Errorf(`must be one of "legacy", "oci-1-1"`)
	}
	*m = referrersMode(s)
	return nil
}

// truthy is how cosign reads a boolean environment variable.
func truthy(s string) bool {
	b, err := strconv.ParseBool(s)
	return err == nil && b
}

// newSigner loads the signing key and the log the flags name.
// signerFor is the signer the flags ask for: the key, keyless (no key), or
// the key with a certificate (--issue-certificate).
func (a *app) signerFor(ctx context.Context, keyRef string, lf *logFlags, kf *keylessFlags) (*sign.Signer, error) {
	if keyRef != "" && !kf.issueCertificate {
		return a.newSigner(keyRef, lf, kf)
	}
	var key crypto.Signer
	if keyRef != "" {
		var err error
		if key, err = a.loadPrivateKey(keyRef); err != nil {
			return nil, err
		}
	}
	return a.keylessSigner(ctx, kf, lf, key)
}

func (a *app) newSigner(keyRef string, lf *logFlags, kf *keylessFlags) (*sign.Signer, error) {
	tsas, err := keyTSAs(kf, lf)
	if err != nil {
		return nil, err
	}
	priv, err := a.loadPrivateKey(keyRef)
	if err != nil {
		return nil, err
	}
	opts, err := a.signerOptions(lf)
	if err != nil {
		return nil, err
	}
	return sign.New(priv, append(opts, timestampOptions(tsas)...)...)
}
