package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/internal/httpserve"
	"hallmark.dev/hallmark/internal/sample"
	logserver "hallmark.dev/hallmark/internal/server/log"
	"hallmark.dev/hallmark/internal/server/registry"
)

func (a *app) quickstartCommand() *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Run the whole sign/verify flow on a throwaway local registry",
		Long: `Start the embedded registry and a transparency log in a temporary directory,
push sample images, generate a key pair, sign an image in both formats through
the log, verify it against the log's trusted root, and show that an unsigned
image, a wrong annotation, the wrong key, a signature copied from another image
and a signature the log never saw are all rejected.`,
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
	go func() { done <- httpserve.Serve(srvCtx, ln, reg, "", "") }()
	defer func() { stop(); <-done }()
	host := ln.Addr().String()
	fmt.Fprintf(a.stdout, "Embedded registry at %s (data in %s)\n", host, filepath.Join(dir, "registry"))

	logDir := filepath.Join(dir, "log")
	logURL, stopLog, err := startQuickstartLog(ctx, logDir)
	if err != nil {
		return err
	}
	defer stopLog()
	fmt.Fprintf(a.stdout, "Transparency log at %s (data in %s)\n", logURL, logDir)
	root, sc := filepath.Join(logDir, "trusted-root.json"), filepath.Join(logDir, "signing-config.json")

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
		{"sign in cosign v3's bundle format (OCI referrer), logged", []string{"sign", "--key", key + ".key", "--signing-config", sc, "-a", "team=quickstart", images["app"]}, 0},
		{"sign in cosign v2's legacy format (.sig tag), logged", []string{"sign", "--key", key + ".key", "--signing-config", sc, "--new-bundle-format=false", images["app"]}, 0},
		{"verify: both signatures, and their log entries, verify", []string{"verify", "--key", pub, "--trusted-root", root, images["app"]}, 0},
		{"verify the annotation", []string{"verify", "--key", pub, "--trusted-root", root, "-a", "team=quickstart", images["app"]}, 0},
		{"the log: its signed size and root", []string{"log", "info", "--signing-config", sc, "--trusted-root", root}, 0},
		{"the log: prove entry 0 is in it", []string{"log", "verify", "--log-index", "0", "--signing-config", sc, "--trusted-root", root}, 0},
		{"reject: an unsigned image", []string{"verify", "--key", pub, "--trusted-root", root, images["unsigned"]}, exitNoSignatures},
		{"reject: a wrong annotation", []string{"verify", "--key", pub, "--trusted-root", root, "-a", "team=intruder", images["app"]}, exitNoMatchingSig},
		{"make a second, untrusted key", []string{"generate-key-pair", "--output-key-prefix", other}, 0},
		{"reject: the wrong key", []string{"verify", "--key", other + ".pub", "--trusted-root", root, images["app"]}, exitNoMatchingSig},
		{"sign without the log", []string{"sign", "--key", other + ".key", images["unsigned"]}, 0},
		{"reject: a signature the log never saw", []string{"verify", "--key", other + ".pub", "--trusted-root", root, images["unsigned"]}, exitNoMatchingSig},
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
	if err := run(quickstartStep{"reject: a signature copied from another image", []string{"verify", "--key", pub, "--trusted-root", root, images["other"]}, exitNoMatchingSig}); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "\nQuickstart passed: signed in both formats through the log, verified with the log check on, and rejected an unsigned image, a wrong annotation, a wrong key, a copied signature and an unlogged one.\n")
	return nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}

// startQuickstartLog serves a transparency log in dir on a loopback port and
// writes its trusted root and signing config there.
func startQuickstartLog(ctx context.Context, dir string) (string, func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	key, err := logserver.LoadOrCreateSigner(dir, "", nil)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	svc, err := logserver.Open(ctx, logserver.Config{Dir: dir, Signer: key, V2Origin: "127.0.0.1"})
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	url := "http://" + ln.Addr().String()
	if err := writeLogTrust(dir, url, key.Public()); err != nil {
		ln.Close()
		return "", nil, err
	}
	srvCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- httpserve.Serve(srvCtx, ln, logserver.NewHandler(svc, 0, nil), "", "") }()
	stop := func() {
		cancel()
		<-done
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = svc.Close(sctx)
	}
	return url, stop, nil
}
