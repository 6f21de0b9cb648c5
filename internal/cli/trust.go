package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/sign"
)

// logFlags choose the transparency log a signature is uploaded to.
type logFlags struct {
	upload           bool
	useSigningConfig bool
	rekorURL         string
	signingConfig    string
}

func (f *logFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.upload, "tlog-upload", true, "upload the signature to the transparency log")
	cmd.Flags().BoolVar(&f.useSigningConfig, "use-signing-config", true, "take service URLs from a signing config (cosign's default takes the public one from TUF; Hallmark fetches nothing: give --signing-config, or false with --rekor-url)")
	cmd.Flags().StringVar(&f.rekorURL, "rekor-url", "", "transparency log (Rekor v1 API) to upload to")
	cmd.Flags().StringVar(&f.signingConfig, "signing-config", "", "Sigstore signing config naming the log to upload to (Rekor API v1 or v2)")
	cmd.MarkFlagsMutuallyExclusive("signing-config", "use-signing-config")
}

// signerOptions returns the log option for sign.New and says on stderr
// where (or whether) signatures are logged. A log the user configured that
// cannot be used is an error: nothing is signed without it.
func (a *app) signerOptions(f *logFlags) ([]sign.Option, error) {
	opts, _, err := a.logOptions(f)
	return opts, err
}

// logOptions is signerOptions, also saying which Rekor API the log speaks
// (0 when there is no log).
func (a *app) logOptions(f *logFlags) ([]sign.Option, uint32, error) {
	if !f.upload {
		a.infof("--tlog-upload=false: the signature is not uploaded to a transparency log")
		return nil, 0, nil
	}
	if f.rekorURL != "" {
		c, err := rekor.NewClient(f.rekorURL, nil)
		if err != nil {
			return nil, 0, err
		}
		a.infof("The signature will be logged on the transparency log %s", f.rekorURL)
		return []sign.Option{sign.WithLog(sign.RekorV1(c))}, 1, nil
	}
	if f.signingConfig == "" {
		a.infof("No transparency log is configured (--rekor-url or --signing-config): the signature gets no log entry (verifiers will need --insecure-ignore-tlog)")
		return nil, 0, nil
	}
	sc, err := readSigningConfig(f.signingConfig)
	if err != nil {
		return nil, 0, err
	}
	svc, err := cosign.SelectRekor(sc, time.Now())
	if err != nil {
		return nil, 0, fmt.Errorf("signing config %s: %w", f.signingConfig, err)
	}
	if svc == nil {
		a.infof("Signing config %s names no transparency log: the signature gets no log entry", f.signingConfig)
		return nil, 0, nil
	}
	c, err := rekor.NewClient(svc.URL, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("signing config %s: %w", f.signingConfig, err)
	}
	a.infof("The signature will be logged on the transparency log %s (Rekor API v%d)", svc.URL, svc.APIVersion)
	if svc.APIVersion == 2 {
		return []sign.Option{sign.WithLog(sign.RekorV2(c))}, 2, nil
	}
	return []sign.Option{sign.WithLog(sign.RekorV1(c))}, 1, nil
}

// logURL is --rekor-url, else the Rekor v1 log of --signing-config valid now
// ("" when neither names one).
func logURL(rekorURL, signingConfig string) (string, error) {
	if rekorURL != "" || signingConfig == "" {
		return rekorURL, nil
	}
	sc, err := readSigningConfig(signingConfig)
	if err != nil {
		return "", err
	}
	return cosign.RekorV1URL(sc, time.Now()), nil
}

// readSigningConfig reads and parses the signing config at path.
func readSigningConfig(path string) (*cosign.SigningConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing config %s: %w", path, err)
	}
	sc, err := cosign.ParseSigningConfig(data)
	if err != nil {
		return nil, fmt.Errorf("signing config %s: %w", path, err)
	}
	return sc, nil
}
