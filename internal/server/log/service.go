package log

import (
	"context"
	"crypto"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/mysql"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sync/singleflight"

	"hallmark.dev/hallmark/internal/server/journal"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/tlog"
)

// Config configures a log service.
type Config struct {
	// Dir holds the search index, the log's keys and, with the POSIX
	// driver, the log itself (Dir/log).
	Dir string
	// Signer is the log key (ECDSA). Checkpoints and SETs are signed with it.
	Signer crypto.Signer
	// Origin names the log in its checkpoints (no spaces).
	Origin string
	// V2Origin names the log in checkpoints answered to the Rekor v2 API:
	// the hostname of the log's URL, which v2 clients check it against.
	V2Origin string
	// MySQL, when set, stores the log in MySQL/MariaDB instead of on disk.
	MySQL *sql.DB
	// BatchMaxSize caps how many entries one round hands to Tessera (and
	// Tessera's batch); BatchMaxAge is how long Tessera holds a round before
	// sequencing it (the round arrives at once, so this only needs to be
	// short). A log on local disk hands Tessera its rounds from the journal,
	// which Tessera holds for journal.TesseraBatchAge instead.
	BatchMaxAge  time.Duration
	BatchMaxSize uint
	// Now is the clock for integrated times (tests set it).
	Now func() time.Time
	// ReindexAfter is how long a MySQL log's frontends leave a sequenced
	// entry unindexed before taking it for one a crashed frontend left
	// (default 30s; it must outlast any append, which requests bound to 20s).
	ReindexAfter time.Duration
	// Logger receives the service's own warnings (nil: discarded).
	Logger *slog.Logger
}

// Service is a running log.
type Service struct {
	cfg      Config
	group    *groupCommitter       // appends go through it to Tessera (through the journal, if any)
	journal  *journal.Journal      // a log on local disk: acknowledges entries before Tessera has them
	tail     *tail                 // with a journal: what it acknowledged and Tessera has yet to integrate
	tailErr  atomic.Pointer[error] // set if the tail lost its place: the log answers for nothing more
	reader   tessera.LogReader
	shutdown func(context.Context) error
	cancel   context.CancelFunc // stops Tessera's background work
	index    indexStore
	metrics  *metrics
	// dbOK is when (UnixNano) the database last answered an append or a read.
	dbOK     atomic.Int64
	signer   *tlog.NoteSigner
	v2Signer *tlog.NoteSigner
	logID    string // hex
	treeID   string
	// treeIDHex is treeID as the 16 hex digits that prefix entry IDs.
	treeIDHex string

	mu        sync.Mutex // serialises signing new trees
	latest    atomic.Pointer[tree]
	tiles     tileCache // raw tiles by (level, index, width)
	tileReads singleflight.Group
	nodes     nodeCache // the same tiles with their interior nodes hashed
}

// tree is a signed view of the log at one size.
type tree struct {
	size       uint64
	root       []byte
	checkpoint []byte // signed with the log key only (Rekor v1 clients accept one signature)
	signedAt   time.Time

	v2Once       sync.Once // the same tree, signed for Rekor v2 clients on first need
	v2Checkpoint []byte
	v2Err        error
}

// checkpointV2 is the tree's checkpoint with the Rekor v2 origin.
func (s *Service) checkpointV2(t *tree) ([]byte, error) {
	t.v2Once.Do(func() {
		text := log.Checkpoint{Origin: s.cfg.V2Origin, Size: t.size, Hash: t.root}.Marshal()
		t.v2Checkpoint, t.v2Err = note.Sign(&note.Note{Text: string(text)}, s.v2Signer)
	})
	return t.v2Checkpoint, t.v2Err
}

// ErrExists is returned by Add when the same entry is already in the log.
var ErrExists = errors.New("an equivalent entry already exists in the log")

// Open starts a log service over the configured storage. ctx bounds only
// the opening; the service runs until Close.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Origin == "" {
		cfg.Origin = "hallmark.local/log"
	}
	if cfg.BatchMaxAge == 0 {
		cfg.BatchMaxAge = time.Millisecond
	}
	if cfg.BatchMaxSize == 0 {
		cfg.BatchMaxSize = 1024
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReindexAfter == 0 {
		cfg.ReindexAfter = defaultReindexAfter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("log data directory: %w", err)
	}
	signer, err := tlog.NewNoteSigner(cfg.Origin, cfg.Signer)
	if err != nil {
		return nil, err
	}
	if cfg.V2Origin == "" {
		cfg.V2Origin = "localhost"
	}
	v2Signer, err := tlog.NewNoteSigner(cfg.V2Origin, cfg.Signer)
	if err != nil {
		return nil, err
	}
	logID, err := tlog.LogIDHex(cfg.Signer.Public())
	if err != nil {
		return nil, err
	}
	var witnessKey note.Signer
	if cfg.MySQL != nil {
		// Every frontend must publish under the same note key, and none
		// may depend on local files: it is derived from the log key.
		witnessKey, err = derivedNoteSigner(cfg.Dir, cfg.Origin, cfg.Signer)
	} else {
		witnessKey, err = c2spSigner(cfg.Dir, cfg.Origin)
	}
	if err != nil {
		return nil, err
	}
	var (
		driver     tessera.Driver
		cpInterval = time.Second
	)
	if cfg.MySQL != nil {
		if err := EnsureMySQLSchema(ctx, cfg.MySQL); err != nil {
			return nil, err
		}
		if err := claimMySQLLog(ctx, cfg.MySQL, logID, cfg.Origin); err != nil {
			return nil, err
		}
		if driver, err = mysql.New(context.WithoutCancel(ctx), cfg.MySQL); err != nil {
			return nil, fmt.Errorf("opening MySQL log storage: %w", err)
		}
		cpInterval = time.Second
	} else if driver, err = posix.New(ctx, posix.Config{Path: filepath.Join(cfg.Dir, "log")}); err != nil {
		return nil, fmt.Errorf("opening POSIX log storage: %w", err)
	}
	// Tessera's integration and publishing loops live as long as this
	// context: the service's lifetime, not the caller's.
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer, witnessKey).
		WithCheckpointInterval(cpInterval)
	if cfg.MySQL != nil {
		opts = opts.WithBatching(cfg.BatchMaxSize, cfg.BatchMaxAge).
			WithAntispam(tessera.DefaultAntispamInMemorySize, nil)
	} else {
		// The journal hands out indices, and so finds duplicates (no
		// antispam: Tessera must put every entry where the journal did), and
		// hands Tessera a round that must be one batch.
		opts = opts.WithBatching(cfg.BatchMaxSize, journal.TesseraBatchAge)
	}
	appender, shutdown, reader, err := tessera.NewAppender(life, driver, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("starting log appender: %w", err)
	}
	var ix indexStore
	if cfg.MySQL != nil {
		ix = &mysqlIndex{db: cfg.MySQL}
	} else if ix, err = openPebbleIndex(cfg.Dir); err != nil {
		_ = shutdown(ctx)
		cancel()
		return nil, err
	}
	s := &Service{cfg: cfg, reader: reader, shutdown: shutdown, cancel: cancel, index: ix,
		signer: signer, v2Signer: v2Signer, logID: logID, treeID: treeIDFor(logID)}
	add := appender.Add
	if cfg.MySQL == nil {
		if err := s.openJournal(ctx, appender.Add); err != nil {
			_ = shutdown(ctx)
			cancel()
			_ = ix.close()
			return nil, err
		}
		add = s.journal.Add
	}
	s.group = newGroupCommitter(add, ix, int(cfg.BatchMaxSize))
	s.metrics = newMetrics(s)
	s.group.observe = s.metrics.round.Observe
	if cfg.MySQL != nil {
		s.group.interval = mysqlRoundInterval
	}
	tid, _ := strconv.ParseInt(s.treeID, 10, 64)
	s.treeIDHex = fmt.Sprintf("%016x", tid)
	go s.group.run(life)
	if pix, ok := ix.(*pebbleIndex); ok {
		if err := s.reconcile(ctx, pix); err != nil {
			s.Close(ctx)
			return nil, err
		}
	} else {
		// Frontends share the index: none rebuilds it, each answers at
		// once, and each repairs what a crashed frontend left unindexed.
		go s.runReconciler(life)
	}
	return s, nil
}

// c2spSigner loads (or creates) the Ed25519 note key that co-signs published
// checkpoints in the C2SP signed-note form, for tlog-tiles clients.
func c2spSigner(dir, origin string) (note.Signer, error) {
	path := filepath.Join(dir, "log-note.key")
	skey, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		sk, vk, gerr := note.GenerateKey(rand.Reader, origin)
		if gerr != nil {
			return nil, gerr
		}
		if err := os.WriteFile(filepath.Join(dir, "log-note.pub"), []byte(vk+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("writing note verifier key: %w", err)
		}
		if err := os.WriteFile(path, []byte(sk), 0o600); err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
		skey = []byte(sk)
	} else if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, fmt.Errorf("note key %s: %w", path, err)
	}
	if s.Name() != origin {
		return nil, fmt.Errorf("note key %s is for origin %q, not %q", path, s.Name(), origin)
	}
	return s, nil
}

// NoteVerifierKey returns the C2SP verifier key of the log's Ed25519 note
// key ("origin+hash+base64"), for tlog-tiles clients and witnesses.
func NoteVerifierKey(dir string) (string, error) {
	vkey, err := os.ReadFile(filepath.Join(dir, "log-note.pub"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(vkey)), nil
}

// treeIDFor derives a stable decimal tree ID (Rekor's API names one) from
// the log ID: a positive int64, as Rekor's sharding requires.
func treeIDFor(logIDHex string) string {
	b, _ := hex.DecodeString(logIDHex)
	var v uint64
	for _, x := range b[:8] {
		v = v<<8 | uint64(x)
	}
	return fmt.Sprint(max(v>>1, 1))
}

// EntryID is an entry's ID as Rekor answers it since sharding: the tree ID
// as 16 hex digits, then the 64-hex leaf hash (rekor-cli needs the tree ID
// to find the key that signed the entry).
func (s *Service) EntryID(leafHash []byte) string {
	return s.treeIDHex + hex.EncodeToString(leafHash)
}

// EntryIDFor turns a stored 64-hex UUID into an entry ID.
func (s *Service) EntryIDFor(uuid string) string {
	if len(uuid) == 64 {
		return s.treeIDHex + uuid
	}
	return uuid
}

// TreeID is the log's tree ID, decimal, as Rekor's API names it.
func (s *Service) TreeID() string { return s.treeID }

// Close hands Tessera what the journal acknowledged, stops the appender
// (flushing what it holds) and its background work, and closes the index.
func (s *Service) Close(ctx context.Context) error {
	var jerr error
	if s.journal != nil {
		// Hand Tessera what was acknowledged (the next start would, too).
		jerr = s.journal.Close(ctx)
	}
	err := s.shutdown(ctx)
	s.cancel()
	return errors.Join(jerr, err, s.index.close())
}

// LogID is the hex SHA-256 of the log's public key.
func (s *Service) LogID() string { return s.logID }

// PublicKey is the log's public key.
func (s *Service) PublicKey() crypto.PublicKey { return s.cfg.Signer.Public() }

// Add validates nothing itself (callers pass a parsed rekor.Entry), appends
// the entry and returns it with its evidence once it is durable and indexed.
// A duplicate returns the existing entry and ErrExists.
func (s *Service) Add(ctx context.Context, e *rekor.Entry) (string, *rekor.LogEntry, error) {
	var le *rekor.LogEntry
	uuid, err := s.add(ctx, e, func(r *record) (err error) {
		le, err = s.logEntry(ctx, r, e.Body)
		return err
	})
	return uuid, le, err
}

// AddV2 is Add for the Rekor v2 API: it answers with a TransparencyLogEntry
// whose inclusion proof is under a checkpoint with the v2 origin (no SET:
// Rekor v2 has none).
func (s *Service) AddV2(ctx context.Context, e *rekor.Entry) (*protorekor.TransparencyLogEntry, error) {
	var tle *protorekor.TransparencyLogEntry
	_, err := s.add(ctx, e, func(r *record) (err error) {
		tle, err = s.transparencyLogEntry(ctx, r, e)
		return err
	})
	return tle, err
}

// add appends e unless the log has it, then calls respond for the entry's
// record. The entry is acknowledged (add returns) only once it is durable in
// the log and the index. A duplicate is answered too, with ErrExists.
func (s *Service) add(ctx context.Context, e *rekor.Entry, respond func(*record) error) (string, error) {
	start := time.Now()
	uuid, err := s.addEntry(ctx, e, respond)
	if err == nil || errors.Is(err, ErrExists) {
		s.dbOK.Store(time.Now().UnixNano())
	}
	switch {
	case err == nil:
		s.metrics.appends.WithLabelValues(resultCreated).Inc()
		s.metrics.appendSeconds.Observe(time.Since(start).Seconds())
	case errors.Is(err, ErrExists):
		s.metrics.appends.WithLabelValues(resultDuplicate).Inc()
	default:
		s.metrics.appends.WithLabelValues(resultFailed).Inc()
	}
	return uuid, err
}

func (s *Service) addEntry(ctx context.Context, e *rekor.Entry, respond func(*record) error) (string, error) {
	leaf := tlog.LeafHash(e.Body)
	uuid := s.EntryID(leaf)
	p := &pendingAdd{entry: tessera.NewEntry(e.Body), indexed: indexed{
		rec: record{LeafHash: leaf, IntegratedTime: s.cfg.Now().Unix()}, searchKeys: e.Keys}}
	seq, err := s.group.append(ctx, p)
	if err != nil {
		return "", fmt.Errorf("appending to the log: %w", err)
	}
	if seq.existing != nil { // the index had it
		return uuid, errors.Join(ErrExists, respond(seq.existing))
	}
	idx := seq.idx
	if idx.IsDup {
		r, err := s.waitIndexed(ctx, idx.Index)
		if err != nil {
			return "", err
		}
		return uuid, errors.Join(ErrExists, respond(r))
	}
	// The proof and SET are built while the entry's group is indexed; the
	// entry is acknowledged only when both are done.
	r := p.rec
	r.LogIndex = idx.Index
	err = respond(&r)
	var done indexDone
	select {
	case done = <-p.done:
	case <-ctx.Done():
		done.err = ctx.Err()
	}
	if done.err != nil {
		return "", fmt.Errorf("indexing entry %d: %w", idx.Index, done.err)
	}
	if done.dup {
		// Another frontend logged the same entry first: answer with that.
		first, err := s.index.byLogIndex(ctx, done.first)
		if err != nil {
			return "", err
		}
		return uuid, errors.Join(ErrExists, respond(first))
	}
	return uuid, err
}

func (s *Service) transparencyLogEntry(ctx context.Context, r *record, e *rekor.Entry) (*protorekor.TransparencyLogEntry, error) {
	t, hashes, err := s.inclusion(ctx, r)
	if err != nil {
		return nil, err
	}
	cp, err := s.checkpointV2(t)
	if err != nil {
		return nil, err
	}
	id, _ := hex.DecodeString(s.logID)
	return &protorekor.TransparencyLogEntry{
		LogIndex:    int64(r.LogIndex),
		LogId:       &protocommon.LogId{KeyId: id},
		KindVersion: &protorekor.KindVersion{Kind: e.Kind, Version: e.APIVersion},
		InclusionProof: &protorekor.InclusionProof{
			LogIndex: int64(r.LogIndex), RootHash: t.root, TreeSize: int64(t.size), Hashes: hashes,
			Checkpoint: &protorekor.Checkpoint{Envelope: string(cp)},
		},
		CanonicalizedBody: e.Body,
	}, nil
}

// waitIndexed waits for a concurrent duplicate's first copy to be indexed,
// asking again less and less often (the index may be a shared database).
func (s *Service) waitIndexed(ctx context.Context, i uint64) (*record, error) {
	wait := 2 * time.Millisecond
	for {
		r, err := s.index.byLogIndex(ctx, i)
		if err == nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// logEntry attaches an inclusion proof against a checkpoint that covers the
// entry, and the entry's SET.
func (s *Service) logEntry(ctx context.Context, r *record, body []byte) (*rekor.LogEntry, error) {
	t, hashes, err := s.inclusion(ctx, r)
	if err != nil {
		return nil, err
	}
	set, err := tlog.SignSET(s.cfg.Signer, body, r.IntegratedTime, int64(r.LogIndex), s.logID)
	if err != nil {
		return nil, err
	}
	hexHashes := make([]string, len(hashes))
	for i, h := range hashes {
		hexHashes[i] = hex.EncodeToString(h)
	}
	return &rekor.LogEntry{
		Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: r.IntegratedTime,
		LogID: s.logID, LogIndex: int64(r.LogIndex),
		Verification: &rekor.Verification{
			SignedEntryTimestamp: set,
			InclusionProof: &rekor.InclusionProof{
				Checkpoint: string(t.checkpoint), Hashes: hexHashes, LogIndex: int64(r.LogIndex),
				RootHash: hex.EncodeToString(t.root), TreeSize: int64(t.size),
			},
		},
	}, nil
}

// inclusion proves r is in a signed tree that covers it.
func (s *Service) inclusion(ctx context.Context, r *record) (*tree, [][]byte, error) {
	t, err := s.treeAt(ctx, r.LogIndex+1)
	if err != nil {
		return nil, nil, err
	}
	hashes, err := s.inclusionProof(ctx, t.size, r.LogIndex)
	if err != nil {
		return nil, nil, err
	}
	return t, hashes, nil
}

// treeAt returns a signed view of the log at its size (what the journal
// acknowledged, or Tessera integrated), which is at least minSize. Views are cached: many requests share one.
func (s *Service) treeAt(ctx context.Context, minSize uint64) (*tree, error) {
	if t := s.latest.Load(); t != nil && t.size >= minSize {
		return t, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.latest.Load(); t != nil && t.size >= minSize {
		return t, nil // signed while this caller waited
	}
	size, err := s.size(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading log size: %w", err)
	}
	if size < minSize {
		return nil, fmt.Errorf("log size %d does not yet cover entry %d", size, minSize-1)
	}
	t, err := s.signTree(ctx, size)
	if err != nil {
		return nil, err
	}
	s.latest.Store(t)
	return t, nil
}

func (s *Service) signTree(ctx context.Context, size uint64) (*tree, error) {
	root := rfc6962.DefaultHasher.EmptyRoot()
	if size > 0 && s.tail != nil {
		var err error
		if root, err = s.tailRoot(ctx, size); err != nil {
			return nil, err
		}
	} else if size > 0 {
		nodes, err := client.FetchRangeNodes(ctx, size, s.cachedTile)
		if err != nil {
			return nil, fmt.Errorf("reading tree of size %d: %w", size, err)
		}
		rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
		rng, err := rf.NewRange(0, size, nodes)
		if err != nil {
			return nil, err
		}
		if root, err = rng.GetRootHash(nil); err != nil {
			return nil, err
		}
	}
	// Rekor v1 names its tree in the origin line ("<origin> - <treeID>"), and
	// v1 clients (sigstore-go) tell a v1 checkpoint by that shape.
	text := log.Checkpoint{Origin: s.cfg.Origin + " - " + s.treeID, Size: size, Hash: root}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(text)}, s.signer)
	if err != nil {
		return nil, fmt.Errorf("signing checkpoint: %w", err)
	}
	return &tree{size: size, root: root, checkpoint: signed, signedAt: time.Now()}, nil
}

// current returns a signed view of the log at its current size.
func (s *Service) current(ctx context.Context) (*tree, error) {
	size, err := s.size(ctx)
	if err != nil {
		return nil, err
	}
	return s.treeAt(ctx, size)
}

// size is how many entries the log holds: what the journal acknowledged,
// or without one, what Tessera integrated.
func (s *Service) size(ctx context.Context) (uint64, error) {
	if s.tail != nil {
		return s.tail.size(), nil
	}
	return s.reader.IntegratedSize(ctx)
}

// body reads entry i's canonical body from the log (of at least size
// entries): from the journal's tail while Tessera has yet to integrate it.
func (s *Service) body(ctx context.Context, i, size uint64) ([]byte, error) {
	if s.tail == nil {
		return s.bundleEntry(ctx, i, size)
	}
	if b, ok := s.tailBody(i); ok {
		return b, nil
	}
	// Tessera holds it: read the bundle at Tessera's size now (an older
	// partial bundle may be gone), and once more should Tessera have widened
	// it meanwhile.
	b, err := s.bundleEntry(ctx, i, 0)
	if err != nil { // Tessera's client does not say whether it was missing
		b, err = s.bundleEntry(ctx, i, 0)
	}
	return b, err
}

// bundleEntry reads entry i from its bundle in the tree of size entries
// (0: Tessera's tree as it is now).
func (s *Service) bundleEntry(ctx context.Context, i, size uint64) ([]byte, error) {
	if size == 0 {
		var err error
		if size, err = s.reader.IntegratedSize(ctx); err != nil {
			return nil, fmt.Errorf("reading entry %d: %w", i, err)
		}
	}
	b, err := client.GetEntryBundle(ctx, s.reader.ReadEntryBundle, i/256, size)
	if err != nil {
		return nil, fmt.Errorf("reading entry %d: %w", i, err)
	}
	if int(i%256) >= len(b.Entries) {
		return nil, fmt.Errorf("entry %d missing from its bundle", i)
	}
	return b.Entries[i%256], nil
}

// GetByIndex returns entry i with its evidence.
func (s *Service) GetByIndex(ctx context.Context, i uint64) (string, *rekor.LogEntry, error) {
	r, err := s.index.byLogIndex(ctx, i)
	if err != nil {
		return "", nil, err
	}
	return s.get(ctx, r)
}

// GetByUUID returns the entry whose leaf hash is uuid: 64 hex, or an
// 80-hex entry ID whose tree ID prefix must be this log's.
func (s *Service) GetByUUID(ctx context.Context, uuid string) (string, *rekor.LogEntry, error) {
	if len(uuid) == 80 {
		if !strings.EqualFold(uuid[:16], s.treeIDHex) {
			return "", nil, fmt.Errorf("%w: entry %s names tree %s; this log's tree is %s", errNoEntry, uuid, uuid[:16], s.treeIDHex)
		}
		uuid = uuid[16:]
	}
	h, err := hex.DecodeString(uuid)
	if err != nil || len(h) != 32 {
		return "", nil, fmt.Errorf("%w: %q is not a 64 (or 80) hex digit entry UUID", errBadRequest, uuid)
	}
	r, err := s.index.byLeafHash(ctx, h)
	if err != nil {
		return "", nil, err
	}
	return s.get(ctx, r)
}

func (s *Service) get(ctx context.Context, r *record) (string, *rekor.LogEntry, error) {
	t, err := s.current(ctx)
	if err != nil {
		return "", nil, err
	}
	body, err := s.body(ctx, r.LogIndex, t.size)
	if err != nil {
		return "", nil, err
	}
	le, err := s.logEntry(ctx, r, body)
	return s.EntryID(r.LeafHash), le, err
}

// Search returns the UUIDs indexed under a search key.
func (s *Service) Search(ctx context.Context, key string) ([]string, error) {
	return s.index.search(ctx, key)
}

// ConsistencyProof proves the tree of size first is a prefix of the tree
// of size last, and returns last's root.
func (s *Service) ConsistencyProof(ctx context.Context, first, last uint64) ([][]byte, []byte, error) {
	t, err := s.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	if last == 0 {
		last = t.size
	}
	if first > last || last > t.size {
		return nil, nil, fmt.Errorf("%w: need firstSize <= lastSize <= %d, got %d and %d", errBadRequest, t.size, first, last)
	}
	lt := t
	if last != t.size {
		if lt, err = s.signTree(ctx, last); err != nil {
			return nil, nil, err
		}
	}
	if first == 0 || first == last {
		return [][]byte{}, lt.root, nil
	}
	p, err := s.consistencyProof(ctx, first, last)
	return p, lt.root, err
}

var errBadRequest = errors.New("bad request")

// reconcile indexes entries the log has but the index lacks (a crash
// between integration and indexing); they were never acknowledged.
func (s *Service) reconcile(ctx context.Context, ix *pebbleIndex) error {
	have, err := ix.size()
	if err != nil {
		return err
	}
	size, err := s.reader.IntegratedSize(ctx)
	if err != nil {
		return err
	}
	for i := have; i < size; i++ {
		body, err := s.body(ctx, i, size)
		if err != nil {
			return fmt.Errorf("reindexing: %w", err)
		}
		r := record{LeafHash: tlog.LeafHash(body), LogIndex: i, IntegratedTime: s.cfg.Now().Unix()}
		if _, err := ix.putAll(ctx, []*indexed{{r, rekor.SearchKeys(body)}}); err != nil {
			return err
		}
	}
	return nil
}

func leafHash(body []byte) []byte { return tlog.LeafHash(body) }
