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
	upload        bool
	rekorURL      string
	signingConfig string
}

func (f *logFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.upload, "tlog-upload", true, "upload the signature to the transparency log")
	cmd.Flags().StringVar(&f.rekorURL, "rekor-url", "", "transparency log (Rekor v1 API) to upload to")
	cmd.Flags().StringVar(&f.signingConfig, "signing-config", "", "Sigstore signing config naming the log to upload to")
}

// signerOptions returns the log option for sign.New and says on stderr
// where (or whether) signatures are logged.
func (a *app) signerOptions(f *logFlags) ([]sign.Option, error) {
	if !f.upload {
		a.infof("--tlog-upload=false: the signature is not uploaded to a transparency log")
		return nil, nil
	}
	url, err := logURL(f.rekorURL, f.signingConfig)
	if err != nil {
		return nil, err
	}
	if url == "" && f.signingConfig != "" {
		a.infof("Signing config %s names no Rekor v1 log valid now: the signature is stored without a log entry", f.signingConfig)
		return nil, nil
	}
	if url == "" {
		a.infof("No transparency log is configured (--rekor-url or --signing-config): the signature is stored without a log entry (verifiers will need --insecure-ignore-tlog)")
		return nil, nil
	}
	c, err := rekor.NewClient(url, nil)
	if err != nil {
		return nil, err
	}
	a.infof("Uploading the signature to the transparency log %s", url)
	return []sign.Option{sign.WithLog(c)}, nil
}

// logURL is --rekor-url, else the Rekor v1 log of --signing-config valid now
// ("" when neither names one).
func logURL(rekorURL, signingConfig string) (string, error) {
	if rekorURL != "" || signingConfig == "" {
		return rekorURL, nil
	}
	data, err := os.ReadFile(signingConfig)
	if err != nil {
		return "", fmt.Errorf("reading signing config %s: %w", signingConfig, err)
	}
	sc, err := cosign.ParseSigningConfig(data)
	if err != nil {
		return "", fmt.Errorf("signing config %s: %w", signingConfig, err)
	}
	return cosign.RekorV1URL(sc, time.Now()), nil
}
