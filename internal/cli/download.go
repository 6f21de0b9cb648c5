package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/attest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/oci"
)

func (a *app) downloadCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "download", Short: "Print what is attached to an image (nothing is verified)"}
	var rf, rfSig registryFlags
	var predicateType string
	att := &cobra.Command{
		Use:   "attestation [--predicate-type T] IMAGE",
		Short: "Print an image's attestations, one JSON document per line: bundles, then legacy envelopes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.downloadAttestations(cmd.Context(), &rf, predicateType, args[0])
		},
	}
	att.Flags().StringVar(&predicateType, "predicate-type", "", "only attestations of this type (a --type name or a URI)")
	rf.add(att)
	sig := &cobra.Command{
		Use:   "signature IMAGE",
		Short: "Print an image's signatures, one JSON document per line: bundles, then legacy signatures",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.downloadSignatures(cmd.Context(), &rfSig, args[0])
		},
	}
	rfSig.add(sig)
	cmd.AddCommand(att, sig)
	return cmd
}

func (a *app) downloadAttestations(ctx context.Context, rf *registryFlags, typ, img string) error {
	want := ""
	if typ != "" {
		var err error
		if want, err = attest.PredicateURI(typ); err != nil {
			return withCode(exitUsage, fmt.Errorf("--predicate-type: %w", err))
		}
	}
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	c, _, d, err := a.resolveImage(ctx, rf, img)
	if err != nil {
		return err
	}
	n := 0
	bundles, err := c.Bundles(ctx, d)
	if err != nil {
		return registryExit(err, d.String())
	}
	for _, sb := range bundles {
		// Unfiltered, every bundle is listed, the image's own signature
		// bundles too (a DSSE statement of the sign predicate), as cosign does.
		if want != "" && sb.PredicateType != want {
			continue
		}
		var line bytes.Buffer
		if err := json.Compact(&line, sb.Bytes); err != nil {
			return fmt.Errorf("referrer %s: %w", sb.Manifest, err)
		}
		fmt.Fprintln(a.stdout, line.String())
		n++
	}
	layers, _, err := c.AttestationLayers(ctx, d)
	if err != nil {
		return registryExit(err, d.String())
	}
	bc := c.NewBlobCache()
	for _, l := range layers {
		if want != "" && l.Annotations[cosign.PredicateTypeAnnotation] != want {
			continue
		}
		raw, err := bc.Blob(ctx, c.AttestationTag(d).Context(), l)
		if err != nil {
			return registryExit(err, d.String())
		}
		env, err := cosign.ParseEnvelope(raw)
		if err != nil {
			return fmt.Errorf("attestation layer %s: %w", l.Digest, err)
		}
		// cosign's shape: payloadType, payload, then each signature's keyid and sig.
		type sigJSON struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		}
		out := struct {
			PayloadType string    `json:"payloadType"`
			Payload     string    `json:"payload"`
			Signatures  []sigJSON `json:"signatures"`
		}{PayloadType: env.PayloadType, Payload: base64.StdEncoding.EncodeToString(env.Payload)}
		for _, s := range env.Signatures {
			out.Signatures = append(out.Signatures, sigJSON{KeyID: s.KeyID, Sig: base64.StdEncoding.EncodeToString(s.Sig)})
		}
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, string(b))
		n++
	}
	if n == 0 && want != "" {
		return withCode(exitNoSignatures, fmt.Errorf("no attestations with predicate type '%s' found", want))
	}
	if n == 0 {
		return withCode(exitNoSignatures, fmt.Errorf("no attestations found for %s", d))
	}
	return nil
}

func (a *app) downloadSignatures(ctx context.Context, rf *registryFlags, img string) error {
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	c, _, d, err := a.resolveImage(ctx, rf, img)
	if err != nil {
		return err
	}
	n := 0
	bundles, err := c.Bundles(ctx, d)
	if err != nil {
		return registryExit(err, d.String())
	}
	for _, sb := range bundles {
		if sb.PredicateType != "" && sb.PredicateType != cosign.SignPredicateType {
			continue
		}
		var line bytes.Buffer
		if err := json.Compact(&line, sb.Bytes); err != nil {
			return fmt.Errorf("referrer %s: %w", sb.Manifest, err)
		}
		fmt.Fprintln(a.stdout, line.String())
		n++
	}
	sigs, err := c.LegacySignatures(ctx, d)
	if err != nil {
		return registryExit(err, d.String())
	}
	for _, s := range sigs {
		out := map[string]any{
			"Base64Signature": s.Annotations[cosign.SignatureAnnotation],
			"Payload":         base64.StdEncoding.EncodeToString(s.Payload),
		}
		for key, ann := range map[string]string{"Cert": cosign.CertificateAnnotation, "Chain": cosign.ChainAnnotation} {
			if v := s.Annotations[ann]; v != "" {
				out[key] = v
			}
		}
		for key, ann := range map[string]string{"Bundle": cosign.LegacyBundleAnnotation, "RFC3161Timestamp": cosign.RFC3161TimestampAnnotation} {
			if v := s.Annotations[ann]; v != "" && json.Valid([]byte(v)) {
				out[key] = json.RawMessage(v)
			}
		}
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, string(b))
		n++
	}
	if n == 0 {
		return withCode(exitNoSignatures, fmt.Errorf("no signatures found for %s", d))
	}
	return nil
}

// resolveImage is what the listing commands start with: a client from the
// registry flags, the image argument parsed and resolved to its digest.
func (a *app) resolveImage(ctx context.Context, rf *registryFlags, img string) (*oci.Client, name.Reference, name.Digest, error) {
	c, err := a.client(rf)
	if err != nil {
		return nil, nil, name.Digest{}, err
	}
	ref, err := c.ParseReference(img)
	if err != nil {
		return nil, nil, name.Digest{}, withCode(exitUsage, err)
	}
	d, _, err := c.Resolve(ctx, ref)
	if err != nil {
		return nil, nil, name.Digest{}, registryExit(err, ref.String())
	}
	return c, ref, d, nil
}
