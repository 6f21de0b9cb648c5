package ct

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/tessera"
	tposix "github.com/transparency-dev/tessera/storage/posix"
	"github.com/transparency-dev/tesseract"
	"github.com/transparency-dev/tesseract/storage"
	"github.com/transparency-dev/tesseract/storage/posix"
	"golang.org/x/mod/sumdb/note"

	"hallmark.dev/hallmark/internal/server/journal"
	"hallmark.dev/hallmark/pkg/pki"
)

// Config configures a CT log.
type Config struct {
	// Dir holds the log (Tessera's POSIX layout), its issuers and roots.
	Dir string
	// Signer signs SCTs and checkpoints; TesseraCT takes ECDSA only.
	Signer crypto.Signer
	// Origin names the log in checkpoints (schemeless, e.g. "ct.example/log").
	Origin string
	// Roots are the certificates chains must end in: the CA's root.
	Roots []*x509.Certificate
	// BatchMaxAge is how long Tessera holds a batch open: at least
	// journal.TesseraBatchAge (1 s), so that a round the journal hands over
	// is one batch (SCTs do not wait for it).
	BatchMaxAge time.Duration
	// CheckpointInterval is how often a checkpoint is published (default 1 s).
	CheckpointInterval time.Duration
	// Logger takes the journal's warnings (default slog.Default()).
	Logger *slog.Logger
}

// Log is a running CT log.
type Log struct {
	handler  http.Handler
	shutdown func(context.Context) error
	logID    [32]byte
	pub      crypto.PublicKey
	signer   crypto.Signer
	storage  *storage.CTStorage
	journal  *journal.Journal
	reader   tessera.LogReader
	stop     context.CancelFunc // ends Tessera's loops, after shutdown
	openErr  error              // the journal did not open
	issuers  sync.Map           // sha256 of issuers already stored
}

// rootsFile is where the log's accepted roots are written: TesseraCT reads
// them from a file.
const rootsFile = "roots.pem"

// Open starts the log in cfg.Dir.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if _, ok := cfg.Signer.Public().(*ecdsa.PublicKey); !ok {
		return nil, fmt.Errorf("ct: the log key must be ECDSA, got %T", cfg.Signer.Public())
	}
	if len(cfg.Roots) == 0 {
		return nil, errors.New("ct: no accepted roots")
	}
	if cfg.Origin == "" || strings.Contains(cfg.Origin, "://") || strings.HasSuffix(cfg.Origin, "/") {
		return nil, fmt.Errorf("ct: origin %q must be schemeless with no trailing slash", cfg.Origin)
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// TesseraCT exits the process if its storage cannot be set up (any
	// error from create below; the journal's own are returned instead):
	// make sure here that it can.
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("ct: %w", err)
	}
	probe := filepath.Join(cfg.Dir, ".write-probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		return nil, fmt.Errorf("ct: log directory %s is not writable: %w", cfg.Dir, err)
	}
	_ = os.Remove(probe)
	roots := filepath.Join(cfg.Dir, rootsFile)
	if err := pki.WriteFileAtomic(roots, pki.EncodeCertificates(cfg.Roots...), 0o644); err != nil {
		return nil, fmt.Errorf("ct: writing roots: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(cfg.Signer.Public())
	if err != nil {
		return nil, err
	}
	l := &Log{logID: sha256.Sum256(der), pub: cfg.Signer.Public(), signer: cfg.Signer}
	create := func(ctx context.Context, signer note.Signer) (*storage.CTStorage, error) {
		// Tessera's loops outlive the caller's context (SIGTERM): Close
		// still hands them the journal's backlog.
		ctx, l.stop = context.WithCancel(context.WithoutCancel(ctx))
		driver, err := tposix.New(ctx, tposix.Config{Path: cfg.Dir})
		if err != nil {
			return nil, err
		}
		opts := tessera.NewAppendOptions().
			WithCheckpointSigner(signer).
			WithCTLayout().
			WithCheckpointInterval(cfg.CheckpointInterval).
			WithCheckpointRepublishInterval(max(cfg.CheckpointInterval, 30*time.Second)).
			WithBatching(journal.DefaultRound, max(cfg.BatchMaxAge, journal.TesseraBatchAge))
		appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, opts)
		if err != nil {
			return nil, err
		}
		l.shutdown, l.reader = shutdown, reader
		size, err := reader.IntegratedSize(ctx)
		if err != nil {
			return nil, err
		}
		add := tessera.AddFn(nil)
		l.journal, err = journal.Open(journal.Config{
			Dir: filepath.Join(cfg.Dir, "journal"), Name: "ct", Size: size, SizeFn: reader.IntegratedSize,
			Add: appender.Add, Decode: decodeTileLeaf, Logger: cfg.Logger, Gather: journal.DefaultGather,
		})
		if err != nil {
			// TesseraCT ends the process when this returns an error: Open
			// returns it instead.
			openErr := err // err is reused below
			l.openErr = openErr
			add = func(context.Context, *tessera.Entry) tessera.IndexFuture {
				return func() (tessera.Index, error) { return tessera.Index{}, openErr }
			}
		} else {
			jr := l.journal
			add = func(ctx context.Context, e *tessera.Entry) tessera.IndexFuture {
				idx, durable, err := jr.Sequence(ctx, e)
				if at, ok := ctx.Value(sequencedKey{}).(*sequenced); ok {
					*at = sequenced{idx: idx, durable: durable, err: err, set: true}
				}
				return journal.Future(idx, durable, err)
			}
		}
		issuers, err := posix.NewIssuerStorage(ctx, cfg.Dir)
		if err != nil {
			return nil, err
		}
		cts, err := storage.NewCTStorage(ctx, &storage.CTStorageOptions{Appender: &tessera.Appender{Add: add}, Reader: reader, IssuerStorage: issuers})
		if err != nil {
			return nil, err
		}
		l.storage = cts
		return cts, nil
	}
	h, err := tesseract.NewLogHandler(ctx, cfg.Origin, cfg.Signer, tesseract.ChainValidationConfig{
		RootsPEMFile: roots,
		ExtKeyUsages: "CodeSigning",
	}, create, 30*time.Second, false, "", tesseract.LogHandlerOpts{DedupRL: -1})
	if err == nil {
		err = l.openErr
	}
	if err != nil {
		_ = l.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("ct: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ct/v1/", h)
	files := http.FileServer(http.Dir(cfg.Dir))
	for _, p := range []string{"GET /checkpoint", "GET /tile/", "GET /issuer/"} {
		mux.Handle(p, files)
	}
	l.handler = mux
	return l, nil
}

// Handler serves RFC 6962 submission and the static-ct-api read side.
func (l *Log) Handler() http.Handler { return l.handler }

// LogID is the SHA-256 of the log's public key, as SCTs name it.
func (l *Log) LogID() [32]byte { return l.logID }

// PublicKey is the log's key.
func (l *Log) PublicKey() crypto.PublicKey { return l.pub }

// Close takes no more entries and stops sequencing once Tessera holds what
// was acknowledged (or ctx ends: the journal hands the rest over at the next
// start).
func (l *Log) Close(ctx context.Context) error {
	var errs []error
	if l.journal != nil {
		errs = append(errs, l.journal.Close(ctx))
	}
	if l.shutdown != nil {
		errs = append(errs, l.shutdown(ctx))
	}
	if l.stop != nil {
		l.stop()
	}
	return errors.Join(errs...)
}

// Ready reports a log that takes no more entries (its journal and Tessera
// disagreed, or the journal could not be written) and storage that cannot
// be read.
func (l *Log) Ready(ctx context.Context) error {
	if l.journal != nil {
		if err := l.journal.Err(); err != nil {
			return err
		}
	}
	if l.reader == nil {
		return errors.New("ct: the log's storage is not open")
	}
	if _, err := l.reader.IntegratedSize(ctx); err != nil {
		return fmt.Errorf("ct: log storage: %w", err)
	}
	return nil
}

// Collectors are the log's metrics: entries acknowledged (an SCT given)
// that Tessera has yet to integrate.
func (l *Log) Collectors() []prometheus.Collector {
	return []prometheus.Collector{prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hallmark_ct_journal_backlog",
		Help: "CT entries acknowledged with an SCT and not yet integrated into the log's tree.",
	}, func() float64 {
		if l.journal == nil {
			return 0
		}
		return float64(l.journal.Backlog())
	})}
}
