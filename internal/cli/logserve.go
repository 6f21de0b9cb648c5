package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/pprof"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	logserver "hallmark.dev/hallmark/internal/server/log"
	"hallmark.dev/hallmark/internal/startup"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/tlog"
)

type logServeOptions struct {
	addr, data, signer, origin, mysqlDSN, publicURL string
	maxEntrySize                                    int64
	mysqlMaxConns                                   int
	batchMaxAge                                     time.Duration
	batchMaxSize                                    uint
	ops                                             opsFlags
}

func (a *app) logCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "log", Short: "Run and query a Rekor-compatible transparency log"}
	o := &logServeOptions{}
	serve := &cobra.Command{
		Use:   "serve --addr HOST:PORT --data DIR",
		Short: "Serve a Rekor-compatible transparency log (Rekor v1 API, C2SP tlog-tiles) stored in DIR",
		Long: `Serve a transparency log. Entries are stored by Tessera on disk in DIR/log and indexed
in DIR/index (Pebble), or, with --mysql, both in MySQL/MariaDB: then the frontend keeps no
state of its own, and any number of them (same --signer, same --origin) can serve one log
behind a load balancer. On start the log writes DIR/trusted-root.json and
DIR/signing-config.json, which hallmark and cosign take as --trusted-root and --signing-config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.serveLog(cmd.Context(), o) },
	}
	f := serve.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:3000", "address to listen on")
	f.StringVar(&o.data, "data", "hallmark-log", "directory for the index, keys and (POSIX storage) the log")
	f.StringVar(&o.signer, "signer", "", "log signing key (PEM; ECDSA). Default: DIR/log-signer.pem, created on first start")
	f.StringVar(&o.origin, "origin", "hallmark.local/log", "log origin named in checkpoints")
	f.StringVar(&o.mysqlDSN, "mysql", "", "store the log and its index in MySQL/MariaDB (go-sql-driver DSN) instead of on disk; any number of frontends with the same --signer and --origin may share one database")
	f.IntVar(&o.mysqlMaxConns, "mysql-max-conns", 32, "most connections this frontend opens to the database (MariaDB allows 151 by default, for every frontend together)")
	f.StringVar(&o.publicURL, "public-url", "", "URL clients reach the log at (default http://ADDR)")
	f.Int64Var(&o.maxEntrySize, "max-entry-size", rekor.MaxEntrySize, "largest entry accepted, in bytes (413 above)")
	f.DurationVar(&o.batchMaxAge, "batch-max-age", time.Millisecond, "with --mysql: longest a group of entries waits to be sequenced once handed to storage (a log on local disk answers from its journal; Tessera holds the journal's rounds 1s)")
	f.UintVar(&o.batchMaxSize, "batch-max-size", 1024, "most entries sequenced in one round (and handed from the journal to Tessera at once)")
	o.ops.add(serve)
	cmd.AddCommand(serve)
	cmd.AddCommand(a.logClientCommands()...)
	return cmd
}

func (a *app) serveLog(ctx context.Context, o *logServeOptions) error {
	if o.mysqlMaxConns < 1 {
		return fmt.Errorf("%w: --mysql-max-conns %d: want at least 1", errUsage, o.mysqlMaxConns)
	}
	tuneGC()
	logger, err := a.serverLogger(&o.ops)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return fmt.Errorf("log data %s: %w", o.data, err)
	}
	pw, _ := a.lookupEnv("HALLMARK_LOG_PASSWORD")
	key, err := logserver.LoadOrCreateSigner(o.data, o.signer, []byte(pw))
	if err != nil {
		return err
	}
	cfg := logserver.Config{Dir: o.data, Signer: key, Origin: o.origin, BatchMaxAge: o.batchMaxAge, BatchMaxSize: o.batchMaxSize, Logger: logger}
	if o.mysqlDSN != "" {
		db, err := logserver.OpenMySQL(ctx, o.mysqlDSN, o.mysqlMaxConns)
		if err != nil {
			return err
		}
		defer db.Close()
		cfg.MySQL = db
	}
	ln, err := listen("addr", o.addr)
	if err != nil {
		return err
	}
	url := o.publicURL
	if url == "" {
		url = "http://" + ln.Addr().String()
	}
	pu, err := neturl.Parse(url)
	if err != nil || pu.Hostname() == "" {
		return fmt.Errorf("%w: --public-url %q is not a URL", errUsage, url)
	}
	cfg.V2Origin = pu.Hostname()
	svc, err := logserver.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = svc.Close(sctx)
	}()
	start, err := svc.ValidFrom(ctx)
	if err != nil {
		return fmt.Errorf("log key validity: %w", err)
	}
	if err := writeLogTrust(o.data, url, key.Public(), start); err != nil {
		return err
	}
	a.infof("Transparency log serving %s (data in %s, log ID %s)", url, o.data, svc.LogID())
	a.infof("Trust it with --trusted-root %s; sign to it with --signing-config %s",
		filepath.Join(o.data, "trusted-root.json"), filepath.Join(o.data, "signing-config.json"))
	h := logserver.NewHandler(svc, o.maxEntrySize, logger)
	return a.runServices(ctx, &o.ops, logger, []service{{name: "rekor", ln: ln, handler: h, ready: svc.Ready, collectors: svc.Collectors()}})
}

// writeLogTrust writes the trusted root and signing config naming this log.
func writeLogTrust(dir, url string, pub any, start time.Time) error {
	id, err := tlog.LogID(pub)
	if err != nil {
		return err
	}
	tr, err := cosign.NewLogTrustedRoot(url, pub, id, start)
	if err != nil {
		return err
	}
	trJSON, err := cosign.MarshalTrust(tr)
	if err != nil {
		return err
	}
	scJSON, err := cosign.MarshalTrust(cosign.NewLogSigningConfig(url, "hallmark", start))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "trusted-root.json"), trJSON, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "signing-config.json"), scJSON, 0o644)
}

// A log server allocates per request and holds little, so by default the
// collector runs at 4x the live heap (not 1x) under a 1 GiB soft limit.
// Rarer still is slower: a heap that sprawls over fresh memory costs more in
// page zeroing and cache misses than the collections it saves (measured with
// bench/logappend at 256 clients: GOGC 100, 200, 400, 800, 1600 gave 4,099,
// 4,381, 4,481, 3,527 and ~3,900 appends/s). GOGC and GOMEMLIMIT override both.
const (
	logGCPercent   = 400
	logMemoryLimit = 1 << 30
)

// A server also gives back the huge pages a process asks for at start when
// HALLMARK_HUGEPAGES=1 (internal/startup): they are for short commands.
func tuneGC() {
	startup.AdviseSmallPages()
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(logGCPercent)
		debug.SetMemoryLimit(logMemoryLimit)
	}
}

// debugMux serves pprof, only when asked for with --debug-addr.
func debugMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return m
}
