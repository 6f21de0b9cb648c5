package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/internal/server/registry"
)

func (a *app) registryCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "registry", Short: "Run the embedded OCI registry"}
	var (
		addr, data, cert, key string
		ops                   opsFlags
	)
	serve := &cobra.Command{
		Use:   "serve --addr HOST:PORT --data DIR",
		Short: "Serve an OCI distribution registry (with the OCI 1.1 referrers API), stored in DIR",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (cert == "") != (key == "") {
				return fmt.Errorf("%w: --tls-cert and --tls-key go together", errUsage)
			}
			return a.serveRegistry(cmd.Context(), addr, data, cert, key, &ops)
		},
	}
	f := serve.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:5000", "address to listen on")
	f.StringVar(&data, "data", "hallmark-registry", "directory holding blobs and the manifest journal")
	f.StringVar(&cert, "tls-cert", "", "PEM certificate: serve HTTPS")
	f.StringVar(&key, "tls-key", "", "PEM private key of --tls-cert")
	ops.add(serve)
	cmd.AddCommand(serve)
	return cmd
}

func (a *app) serveRegistry(ctx context.Context, addr, data, cert, key string, ops *opsFlags) error {
	logger, err := a.serverLogger(ops)
	if err != nil {
		return err
	}
	reg, err := registry.Open(data, nil)
	if err != nil {
		return fmt.Errorf("registry data %s: %w", data, err)
	}
	defer reg.Close()
	ln, err := listen("addr", addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if cert != "" {
		scheme = "https"
	}
	a.infof("Registry serving %s://%s (data in %s)", scheme, ln.Addr(), data)
	return a.runServices(ctx, ops, logger, []service{{name: "registry", ln: ln, handler: reg, tlsCert: cert, tlsKey: key}})
}
