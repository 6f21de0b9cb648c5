package cli

import (
	"context"
	"fmt"
	"strconv"
	"unicode"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/cosign"
)

func (a *app) treeCommand() *cobra.Command {
	var rf registryFlags
	cmd := &cobra.Command{
		Use:   "tree IMAGE",
		Short: "List everything attached to an image: signatures, attestations, SBOMs and referrers, in both layouts",
		Long: `List what is attached to an image, as cosign tree does: the legacy .att, .sig and
.sbom images with their layers (attestation layers with their predicate type), then every
OCI referrer, named by its predicate type when it is a Sigstore bundle. Nothing is verified.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.tree(cmd.Context(), &rf, args[0]) },
	}
	rf.add(cmd)
	return cmd
}

func (a *app) tree(ctx context.Context, rf *registryFlags, img string) error {
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	c, ref, d, err := a.resolveImage(ctx, rf, img)
	if err != nil {
		return err
	}
	type block struct {
		icon, what string
		tag        name.Tag
	}
	var out []string
	for _, b := range []block{
		{"💾", "Attestations", c.AttestationTag(d)},
		{"🔐", "Signatures", c.LegacyTag(d)},
		{"📦", "SBOMs", c.SBOMTag(d)},
	} {
		layers, err := c.TagLayers(ctx, b.tag)
		if err != nil {
			return registryExit(err, b.tag.String())
		}
		if len(layers) == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("└── %s %s for an image tag: %s", b.icon, b.what, b.tag.Name()))
		out = append(out, cherries(layers, func(l v1.Descriptor) string { return l.Annotations[cosign.PredicateTypeAnnotation] })...)
	}
	refs, err := c.Referrers(ctx, d)
	if err != nil {
		return registryExit(err, d.String())
	}
	for _, r := range refs {
		kind := r.ArtifactType
		if pt := r.Annotations[cosign.BundlePredicateTypeAnnotation]; pt != "" {
			kind = pt
		}
		if kind == "" {
			continue
		}
		out = append(out, fmt.Sprintf("└── 🔗 %s artifacts via OCI referrer: %s", printable(kind), c.SignatureRepository(d).Digest(r.Digest.String()).Name()))
		out = append(out, cherries(r.Layers, func(v1.Descriptor) string { return "" })...)
	}
	if len(out) == 0 {
		fmt.Fprintf(a.stdout, "No Supply Chain Security Related Artifacts found for image %s,\n start creating one with simply running$ hallmark sign <img>\n", ref)
		return nil
	}
	fmt.Fprintf(a.stdout, "📦 Supply Chain Security Related artifacts for an image: %s\n", ref)
	for _, l := range out {
		fmt.Fprintln(a.stdout, l)
	}
	return nil
}

// cherries are the layer lines of a block.
func cherries(layers []v1.Descriptor, note func(v1.Descriptor) string) []string {
	var out []string
	for i, l := range layers {
		branch := "├──"
		if i == len(layers)-1 {
			branch = "└──"
		}
		line := fmt.Sprintf("   %s 🍒 %s", branch, l.Digest)
		if n := note(l); n != "" {
			line += " " + printable(n)
		}
		out = append(out, line)
	}
	return out
}

// printable is a registry-controlled string made safe for a terminal: as is
// when it is printable and short, quoted otherwise.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(truncate(s, 200))
		}
	}
	return truncate(s, 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
