package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/internal/sample"
	"hallmark.dev/hallmark/internal/server/stack"
)

func (a *app) quickstartCommand() *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Run the whole keyless and keyed flow on a throwaway local stack",
		Long: `Start the whole private stack (hallmark serve: registry, transparency log, CT
log, CA, OIDC issuer, TSA) in a temporary directory, push sample images, and
run the flows a user runs: keyless signing with a token from the issuer (bundle
and legacy formats, a blob through the Rekor v2 API), a GitHub Actions job's
ambient token, and signing with a key pair; then show that a wrong identity, a
wrong workflow repository, an unsigned image, a wrong annotation, the wrong key,
a signature copied from another image and a signature the log never saw are
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
// code it must end with and, when set, the environment it runs in.
type quickstartStep struct {
	what     string
	args     []string
	wantCode int
	env      map[string]string
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
	data := filepath.Join(dir, "stack")
	svc, stop, err := a.startQuickstartStack(ctx, data)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(a.stdout, "hallmark serve --data %s is running:\n", data)
	for _, l := range [][2]string{{"registry", svc.Registry}, {"transparency log", svc.Rekor}, {"CT log", svc.CT}, {"CA", svc.CA},
		{"OIDC issuer", svc.OIDC}, {"TSA", svc.TSA}} {
		fmt.Fprintf(a.stdout, "  %-17s %s\n", l[0], l[1])
	}
	root := filepath.Join(data, stack.TrustedRootFile)
	sc, sc2 := filepath.Join(data, stack.SigningConfigFile), filepath.Join(data, stack.SigningConfigV2File)

	host := strings.TrimPrefix(svc.Registry, "http://")
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
	blob := filepath.Join(dir, "release.tar.gz")
	if err := os.WriteFile(blob, []byte("a release artifact\n"), 0o644); err != nil {
		return err
	}
	tok := filepath.Join(dir, "token")
	me := []string{"--certificate-identity", "dev@hallmark.local", "--certificate-oidc-issuer", svc.OIDC}
	key, pub := filepath.Join(dir, "cosign"), filepath.Join(dir, "cosign.pub")
	other := filepath.Join(dir, "other")
	keyless := []quickstartStep{
		{"an identity token from the issuer (dev@hallmark.local)", []string{"oidc", "token", "--data", data, "-o", tok}, 0, nil},
		{"sign keyless in cosign v3's bundle format: certificate with SCT, log entry, timestamp", []string{"sign", "--identity-token", tok, "--signing-config", sc, "--trusted-root", root, "-a", "team=quickstart", images["app"]}, 0, nil},
		{"sign keyless in cosign v2's legacy format (.sig tag)", []string{"sign", "--new-bundle-format=false", "--identity-token", tok, "--signing-config", sc, "--trusted-root", root, images["app"]}, 0, nil},
		{"verify: who signed, checked against the trusted root", append(append([]string{"verify", "--trusted-root", root}, me...), "-a", "team=quickstart", images["app"]), 0, nil},
		{"reject: another identity", []string{"verify", "--trusted-root", root, "--certificate-identity", "mallory@hallmark.local", "--certificate-oidc-issuer", svc.OIDC, images["app"]}, exitNoMatchingSig, nil},
		{"sign a blob keyless through the Rekor v2 API", []string{"sign-blob", "--identity-token", tok, "--signing-config", sc2, "--trusted-root", root, "--bundle", blob + ".sigstore.json", blob}, 0, nil},
		{"verify the blob", append(append([]string{"verify-blob", "--bundle", blob + ".sigstore.json", "--trusted-root", root}, me...), blob), 0, nil},
	}
	keyed := []quickstartStep{
		{"generate a key pair (empty password)", []string{"generate-key-pair", "--output-key-prefix", key}, 0, nil},
		{"sign with the key, logged", []string{"sign", "--key", key + ".key", "--signing-config", sc, "-a", "team=quickstart", images["app"]}, 0, nil},
		{"verify with the key: signatures and their log entries", []string{"verify", "--key", pub, "--trusted-root", root, images["app"]}, 0, nil},
		{"the log: its signed size and root", []string{"log", "info", "--signing-config", sc, "--trusted-root", root}, 0, nil},
		{"the log: prove entry 0 is in it", []string{"log", "verify", "--log-index", "0", "--signing-config", sc, "--trusted-root", root}, 0, nil},
		{"reject: an unsigned image", []string{"verify", "--key", pub, "--trusted-root", root, images["unsigned"]}, exitNoSignatures, nil},
		{"reject: a wrong annotation", []string{"verify", "--key", pub, "--trusted-root", root, "-a", "team=intruder", images["app"]}, exitNoMatchingSig, nil},
		{"make a second, untrusted key", []string{"generate-key-pair", "--output-key-prefix", other}, 0, nil},
		{"reject: the wrong key", []string{"verify", "--key", other + ".pub", "--trusted-root", root, images["app"]}, exitNoMatchingSig, nil},
		{"sign without the log", []string{"sign", "--key", other + ".key", "--tlog-upload=false", images["unsigned"]}, 0, nil},
		{"reject: a signature the log never saw", []string{"verify", "--key", other + ".pub", "--trusted-root", root, images["unsigned"]}, exitNoMatchingSig, nil},
	}
	run := func(s quickstartStep) (string, error) {
		var out, errb bytes.Buffer
		env := s.env
		quiet := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] },
			lookupEnv: func(k string) (string, bool) {
				if k == "HALLMARK_PASSWORD" {
					return "", true
				}
				v, ok := env[k]
				return v, ok
			}, isTTY: func() bool { return false }}
		fmt.Fprintf(a.stdout, "\n# %s\n$ hallmark %s\n", s.what, strings.Join(s.args, " "))
		code := quiet.run(ctx, s.args)
		fmt.Fprint(a.stdout, indent(errb.String()+out.String()))
		if code != s.wantCode {
			return "", fmt.Errorf("quickstart step %q exited %d, want %d", s.what, code, s.wantCode)
		}
		fmt.Fprintf(a.stdout, "  => exit %d, as expected\n", code)
		return out.String(), nil
	}
	fmt.Fprintf(a.stdout, "\n## Keyless\n")
	for _, s := range keyless {
		if _, err := run(s); err != nil {
			return err
		}
	}
	// A GitHub Actions job: its two variables, then hallmark picks up the token.
	out, err := run(quickstartStep{"a GitHub Actions job's token request (ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN)",
		[]string{"oidc", "actions-env", "--data", data, "--github-repository", "octo/demo", "--github-ref", "refs/tags/v1.0.0"}, 0, nil})
	if err != nil {
		return err
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok {
			env[k] = strings.Trim(v, "'")
		}
	}
	wf := []string{"verify", "--trusted-root", root, "--certificate-identity-regexp", "^https://github.com/octo/demo/", "--certificate-oidc-issuer", svc.OIDCGitHub}
	for _, s := range []quickstartStep{
		{"sign in the job: the ambient token, no flag", []string{"sign", "--signing-config", sc, "--trusted-root", root, images["other"]}, 0, env},
		{"verify the workflow that signed", append(wf, "--certificate-github-workflow-repository", "octo/demo", images["other"]), 0, nil},
		{"reject: another repository's workflow", append(wf, "--certificate-github-workflow-repository", "octo/evil", images["other"]), exitNoMatchingSig, nil},
	} {
		if _, err := run(s); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.stdout, "\n## With a key\n")
	for _, s := range keyed {
		if _, err := run(s); err != nil {
			return err
		}
	}
	// A signature copied from another image: move app's .sig onto other.
	if err := sample.CopyLegacySignature(ctx, images["app"], images["unsigned"]); err != nil {
		return err
	}
	if _, err := run(quickstartStep{"reject: a signature copied from another image", append(append([]string{"verify", "--trusted-root", root}, me...), images["unsigned"]), exitNoMatchingSig, nil}); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "\nQuickstart passed: keyless signatures (bundle, legacy, blob, GitHub Actions) and key signatures made and verified on a private stack, and a wrong identity, a wrong workflow, an unsigned image, a wrong annotation, a wrong key, a copied signature and an unlogged one rejected.\n")
	return nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}

// startQuickstartStack runs hallmark serve in this process on loopback
// ports, with its data in dir, and returns its services once they answer.
func (a *app) startQuickstartStack(ctx context.Context, dir string) (*stack.Services, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	var logs bytes.Buffer
	var mu sync.Mutex
	srv := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: lockedWriter{&mu, &logs},
		getenv: func(string) string { return "" }, lookupEnv: func(string) (string, bool) { return "", false }, isTTY: func() bool { return false }}
	args := []string{"serve", "--data", dir, "--log-level", "error"}
	for _, s := range []string{"registry", "rekor", "ct", "ca", "oidc", "tsa"} {
		args = append(args, "--"+s+"-addr", "127.0.0.1:0")
	}
	done := make(chan int, 1)
	go func() { done <- srv.run(ctx, args) }()
	stop := func() { cancel(); <-done }
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			cancel()
			mu.Lock()
			defer mu.Unlock()
			return nil, nil, fmt.Errorf("the stack did not start: %s", logs.String())
		default:
		}
		if s, err := stack.ReadServices(dir); err == nil {
			return s, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, errors.New("the stack did not start within a minute")
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
