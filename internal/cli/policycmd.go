package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"hallmark.dev/hallmark/pkg/admit"
	"hallmark.dev/hallmark/pkg/imagepolicy"
)

func (a *app) policyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test and convert admission policies (ClusterImagePolicy, Kyverno verifyImages) without a cluster",
	}
	cmd.AddCommand(a.policyTestCommand(), a.policyConvertCommand())
	return cmd
}

type policyTestOptions struct {
	admit     admitFlags
	namespace string
	kind      string
	output    string
}

func (a *app) policyTestCommand() *cobra.Command {
	o := &policyTestOptions{}
	cmd := &cobra.Command{
		Use:   "test --policy FILE... IMAGE...",
		Short: "Decide images as the admission webhook would, and say why",
		Long: `Decide each image as the admission webhook would for a Pod in --namespace:
every policy matching it must pass. The decision and its reasons (policy,
authority, check, want/got) are printed per image.

Exit codes: 0 every image allowed; 12 an image denied; 14 an image could not
be decided (its registry failed or was too slow: never reported as unsigned);
2 bad usage.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.policyTest(cmd.Context(), o, args)
		},
	}
	o.admit.add(cmd, "policy", string(admit.NoMatchDeny))
	_ = cmd.MarkFlagRequired("policy")
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", "default", "the namespace the images would run in (namespaced Kyverno Policies apply only there)")
	cmd.Flags().StringVar(&o.kind, "kind", "Pod", "the workload kind the images would run in")
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func (a *app) policyTest(ctx context.Context, o *policyTestOptions, images []string) error {
	if o.output != "text" && o.output != "json" {
		return fmt.Errorf("%w: --output %q: want text or json", errUsage, o.output)
	}
	ps, err := o.admit.loadPolicies("policy")
	if err != nil {
		return err
	}
	cfg, err := o.admit.engineConfig(nil)
	if err != nil {
		return err
	}
	cfg.Policies = ps
	e, err := admit.New(cfg)
	if err != nil {
		return withCode(exitUsage, err)
	}
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	req := admit.Request{Namespace: o.namespace, Kind: o.kind}
	for i, im := range images {
		req.Images = append(req.Images, admit.Image{Path: fmt.Sprintf("args[%d]", i), Ref: im})
	}
	d := e.Decide(ctx, req)
	if o.output == "json" {
		b, _ := json.MarshalIndent(d, "", "  ")
		fmt.Fprintln(a.stdout, string(b))
	} else {
		printDecision(a.stdout, d, cfg.NoMatch)
	}
	if d.Allowed {
		return nil
	}
	undecidedOnly := true
	for _, ir := range d.Images {
		for _, pr := range ir.Policies {
			if pr.Result == "fail" && pr.Mode == string(imagepolicy.Enforce) {
				undecidedOnly = false
			}
		}
		if len(ir.Policies) == 0 {
			undecidedOnly = false
		}
	}
	if undecidedOnly {
		return withCode(exitRegistryFailure, errors.New("not every image could be decided: a registry failed or was too slow (see above)"))
	}
	return withCode(exitNoMatchingSig, errors.New("denied: not every image satisfies the policies (see above)"))
}

// printDecision prints each image's verdict: DENIED when an enforcing
// policy did not pass it, or no policy matches it and noMatch denies.
func printDecision(w io.Writer, d *admit.Decision, noMatch admit.NoMatch) {
	for _, ir := range d.Images {
		verdict := "ALLOWED"
		if len(ir.Policies) == 0 && noMatch == admit.NoMatchDeny {
			verdict = "DENIED"
		}
		for _, pr := range ir.Policies {
			if pr.Result != "pass" && pr.Mode == string(imagepolicy.Enforce) {
				verdict = "DENIED"
			}
		}
		digest := ""
		if ir.Digest != "" && !strings.HasSuffix(ir.Image, "@"+ir.Digest) {
			digest = " (" + ir.Digest + ")"
		}
		fmt.Fprintf(w, "%s %s%s\n", verdict, ir.Image, digest)
		if len(ir.Policies) == 0 {
			fmt.Fprintf(w, "  no policy matches it\n")
		}
		for _, pr := range ir.Policies {
			fmt.Fprintf(w, "  %s %s (%s)", pr.Result, pr.Policy, pr.Mode)
			if len(pr.Signers) > 0 {
				fmt.Fprintf(w, ": signed by %s", strings.Join(pr.Signers, ", "))
			}
			fmt.Fprintln(w)
			for _, r := range pr.Reasons {
				fmt.Fprintf(w, "    - %s\n", r)
			}
		}
	}
	for _, m := range d.Denials {
		fmt.Fprintf(w, "denied: %s\n", m)
	}
	for _, m := range d.Warnings {
		fmt.Fprintf(w, "warning: %s\n", m)
	}
}

func (a *app) policyConvertCommand() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "convert --to clusterimagepolicy|kyverno|model FILE...",
		Short: "Convert policies between ClusterImagePolicy and Kyverno verifyImages, or print Hallmark's model of them",
		Long: `Read ClusterImagePolicies and Kyverno policies and write them in the other
language (or as the model both compile to). What the target language cannot
express is an error naming it; what changes meaning (a Kyverno * crosses /,
a ClusterImagePolicy * does not) is said on standard error.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := imagepolicy.LoadPaths(args)
			if err != nil {
				return withCode(exitUsage, err)
			}
			var docs []any
			for _, p := range ps {
				name := convertedName(p)
				switch to {
				case "model":
					docs = append(docs, p)
				case "clusterimagepolicy", "cip":
					cs, notes, err := imagepolicy.ToClusterImagePolicies(p, name)
					if err != nil {
						return err
					}
					a.notes(p.Name, notes)
					for _, c := range cs {
						docs = append(docs, c)
					}
				case "kyverno":
					k, notes, err := imagepolicy.ToKyverno(p, name)
					if err != nil {
						return err
					}
					a.notes(p.Name, notes)
					docs = append(docs, k)
				default:
					return fmt.Errorf("%w: --to %q: want clusterimagepolicy, kyverno or model", errUsage, to)
				}
			}
			for i, d := range docs {
				b, err := yaml.Marshal(d)
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Fprintln(a.stdout, "---")
				}
				fmt.Fprint(a.stdout, string(b))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "model", "target: clusterimagepolicy (cip), kyverno or model")
	return cmd
}

func (a *app) notes(what string, notes []string) {
	for _, n := range notes {
		a.infof("note: %s: %s", what, n)
	}
}

// convertedName is a resource name for a converted policy.
func convertedName(p *imagepolicy.Policy) string {
	parts := strings.Split(p.Name, "/")
	n := strings.Join(parts[1:], "-")
	if strings.HasPrefix(p.Name, "Policy/") && len(parts) > 2 {
		n = strings.Join(parts[2:], "-")
	}
	return strings.ToLower(n)
}
