package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/internal/sample"
	"hallmark.dev/hallmark/pkg/registry"
)

func (a *app) quickstartCommand() *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Run the whole sign/verify flow on a throwaway local registry",
		Long: `Start the embedded registry in a temporary directory, push sample images,
generate a key pair, sign an image in both formats, verify it, and show that an
unsigned image, a signature copied from another image and the wrong key are
all rejected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.quickstart(cmd.Context(), keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary directory (keys, registry data) afterwards")
	return cmd
}

// quickstartStep is one hallmark command the quickstart runs, with the exit
// code it must end with.
type quickstartStep struct {
	what     string
	args     []string
	wantCode int
}

func (a *app) quickstart(ctx context.Context, keep bool) error {
	dir, err := os.MkdirTemp("", "hallmark-quickstart-")
	if err != nil {
		return err
	}
	if keep {
		a.infof("Working in %s (kept)", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	reg, err := registry.Open(filepath.Join(dir, "registry"), nil)
	if err != nil {
		return err
	}
	defer reg.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- registry.Serve(srvCtx, ln, reg, "", "") }()
	defer func() { stop(); <-done }()
	host := ln.Addr().String()
	fmt.Fprintf(a.stdout, "Embedded registry at %s (data in %s)\n", host, filepath.Join(dir, "registry"))

	images := map[string]string{"app": host + "/quickstart/app:v1", "unsigned": host + "/quickstart/unsigned:v1", "other": host + "/quickstart/other:v1"}
	for _, which := range []string{"app", "unsigned", "other"} {
		ref, err := name.ParseReference(images[which])
		if err != nil {
			return err
		}
		img, err := sample.Image("hello from the " + which + " image\n")
		if err != nil {
			return err
		}
		if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("pushing sample image %s: %w", ref, err)
		}
		fmt.Fprintf(a.stdout, "Pushed sample image %s\n", ref)
	}
	key, pub := filepath.Join(dir, "cosign"), filepath.Join(dir, "cosign.pub")
	other := filepath.Join(dir, "other")
	steps := []quickstartStep{
		{"generate a key pair (empty password)", []string{"generate-key-pair", "--output-key-prefix", key}, 0},
		{"sign in cosign v3's bundle format (OCI referrer)", []string{"sign", "--key", key + ".key", "-a", "team=quickstart", images["app"]}, 0},
		{"sign in cosign v2's legacy format (.sig tag)", []string{"sign", "--key", key + ".key", "--new-bundle-format=false", images["app"]}, 0},
		{"verify: both signatures verify", []string{"verify", "--key", pub, "--insecure-ignore-tlog", images["app"]}, 0},
		{"verify the annotation", []string{"verify", "--key", pub, "--insecure-ignore-tlog", "-a", "team=quickstart", images["app"]}, 0},
		{"reject: an unsigned image", []string{"verify", "--key", pub, "--insecure-ignore-tlog", images["unsigned"]}, exitNoSignatures},
		{"reject: a wrong annotation", []string{"verify", "--key", pub, "--insecure-ignore-tlog", "-a", "team=intruder", images["app"]}, exitNoMatchingSig},
		{"make a second, untrusted key", []string{"generate-key-pair", "--output-key-prefix", other}, 0},
		{"reject: the wrong key", []string{"verify", "--key", other + ".pub", "--insecure-ignore-tlog", images["app"]}, exitNoMatchingSig},
	}
	quiet := &app{stdin: strings.NewReader(""), getenv: func(string) string { return "" },
		lookupEnv: func(k string) (string, bool) { return "", k == "HALLMARK_PASSWORD" }, isTTY: func() bool { return false }}
	run := func(s quickstartStep) error {
		var out, errb bytes.Buffer
		quiet.stdout, quiet.stderr = &out, &errb
		fmt.Fprintf(a.stdout, "\n# %s\n$ hallmark %s\n", s.what, strings.Join(s.args, " "))
		code := quiet.run(ctx, s.args)
		fmt.Fprint(a.stdout, indent(errb.String()+out.String()))
		if code != s.wantCode {
			return fmt.Errorf("quickstart step %q exited %d, want %d", s.what, code, s.wantCode)
		}
		fmt.Fprintf(a.stdout, "  => exit %d, as expected\n", code)
		return nil
	}
	for _, s := range steps {
		if err := run(s); err != nil {
			return err
		}
	}
	// A signature copied from another image: move app's .sig onto other.
	if err := sample.CopyLegacySignature(ctx, images["app"], images["other"]); err != nil {
		return err
	}
	if err := run(quickstartStep{"reject: a signature copied from another image", []string{"verify", "--key", pub, "--insecure-ignore-tlog", images["other"]}, exitNoMatchingSig}); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "\nQuickstart passed: signed in both formats, verified, and rejected an unsigned image, a wrong annotation, a wrong key and a copied signature.\n")
	return nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}
