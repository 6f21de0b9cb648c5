package cli

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/tlog"
	"hallmark.dev/hallmark/pkg/trust"
	"hallmark.dev/hallmark/pkg/verify"
)

// logClientFlags locate a log and the key to check it with.
type logClientFlags struct {
	rekorURL, signingConfig, trustedRoot string
}

func (f *logClientFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.rekorURL, "rekor-url", "", "log URL (default: the Rekor v1 log of --signing-config)")
	cmd.Flags().StringVar(&f.signingConfig, "signing-config", "", "signing config naming the log")
	cmd.Flags().StringVar(&f.trustedRoot, "trusted-root", "", "trusted root holding the log's key (default: trust the key the log serves)")
}

// openLog returns a client and the log to check its answers against: the
// log of --trusted-root at the client's URL, or else the key the log serves.
func (a *app) openLog(ctx context.Context, f *logClientFlags) (*rekor.Client, *trust.Log, error) {
	c, err := logClientOnly(f)
	if err != nil {
		return nil, nil, err
	}
	if f.trustedRoot != "" {
		m, err := loadTrustedRoot(f.trustedRoot)
		if err != nil {
			return nil, nil, err
		}
		for i := range m.Logs {
			if strings.TrimRight(m.Logs[i].BaseURL, "/") == c.URL() {
				return c, &m.Logs[i], nil
			}
		}
		if len(m.Logs) == 1 {
			return c, &m.Logs[0], nil
		}
		return nil, nil, fmt.Errorf("trusted root %s has no log at %s", f.trustedRoot, c.URL())
	}
	p, err := c.PublicKey(ctx)
	if err != nil {
		return nil, nil, err
	}
	pub, err := keys.ParsePublicKey(p)
	if err != nil {
		return nil, nil, fmt.Errorf("log %s public key: %w", c.URL(), err)
	}
	id, err := tlog.LogID(pub)
	if err != nil {
		return nil, nil, err
	}
	a.infof("Trusting the key log %s serves (pass --trusted-root to pin it)", c.URL())
	return c, &trust.Log{BaseURL: c.URL(), ID: id, Key: pub}, nil
}

func (a *app) logClientCommands() []*cobra.Command {
	return []*cobra.Command{a.logInfoCommand(), a.logGetCommand(), a.logSearchCommand(), a.logVerifyCommand(), a.logConsistencyCommand()}
}

func (a *app) logInfoCommand() *cobra.Command {
	f := &logClientFlags{}
	cmd := &cobra.Command{
		Use: "info", Short: "Show the log's size and root, with its checkpoint signature checked", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, lg, err := a.openLog(cmd.Context(), f)
			if err != nil {
				return err
			}
			li, err := c.Info(cmd.Context())
			if err != nil {
				return err
			}
			cp, err := tlog.VerifyCheckpoint([]byte(li.SignedTreeHead), lg.Key)
			if err != nil {
				return fmt.Errorf("log %s: %w", c.URL(), err)
			}
			if int64(cp.Size) != li.TreeSize || hex.EncodeToString(cp.Hash) != li.RootHash {
				return fmt.Errorf("log %s: signed tree head (size %d) disagrees with reported size %d / root %s", c.URL(), cp.Size, li.TreeSize, li.RootHash)
			}
			fmt.Fprintf(a.stdout, "Verification Successful!\nTree Size: %d\nRoot Hash: %s\nTree ID: %s\nTimestamp: %s\n", li.TreeSize, li.RootHash, li.TreeID, time.Now().UTC().Format(time.RFC3339))
			fmt.Fprintf(a.stdout, "Checkpoint:\n%s", li.SignedTreeHead)
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func (a *app) logGetCommand() *cobra.Command {
	f := &logClientFlags{}
	var uuid string
	var index int64
	cmd := &cobra.Command{
		Use: "get (--uuid U | --log-index N)", Short: "Fetch an entry, checking its inclusion proof and SET", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (uuid == "") == (index < 0) {
				return fmt.Errorf("%w: give exactly one of --uuid and --log-index", errUsage)
			}
			c, lg, err := a.openLog(cmd.Context(), f)
			if err != nil {
				return err
			}
			u, le, err := fetchEntry(cmd.Context(), c, uuid, index)
			if err != nil {
				return err
			}
			if err := checkLogEntry(le, lg); err != nil {
				return fmt.Errorf("entry %s: %w", u, err)
			}
			body, _ := base64.StdEncoding.DecodeString(le.Body)
			out := map[string]any{"UUID": u, "LogIndex": le.LogIndex, "IntegratedTime": time.Unix(le.IntegratedTime, 0).UTC().Format(time.RFC3339),
				"LogID": le.LogID, "Body": json.RawMessage(body)}
			b, _ := json.MarshalIndent(out, "", "  ")
			fmt.Fprintln(a.stdout, string(b))
			return nil
		},
	}
	cmd.Flags().StringVar(&uuid, "uuid", "", "entry UUID")
	cmd.Flags().Int64Var(&index, "log-index", -1, "entry log index")
	f.add(cmd)
	return cmd
}

// fetchEntry gets an entry by UUID, or by index when uuid is empty.
func fetchEntry(ctx context.Context, c *rekor.Client, uuid string, index int64) (string, *rekor.LogEntry, error) {
	if uuid != "" {
		return c.GetByUUID(ctx, uuid)
	}
	return c.GetByIndex(ctx, index)
}

// checkLogEntry verifies an entry as fetched from the log: its SET and its
// inclusion proof under the log's signed checkpoint (pkg/verify decides).
func checkLogEntry(le *rekor.LogEntry, lg *trust.Log) error {
	tle, err := rekor.ToTLE(le)
	if err != nil {
		return err
	}
	return verify.LogEntry(tle, lg)
}

func (a *app) logSearchCommand() *cobra.Command {
	f := &logClientFlags{}
	var email, sha, pubPath, artifact string
	cmd := &cobra.Command{
		Use: "search (--email E | --sha S | --public-key F | --artifact FILE)", Short: "Find entries by identity, artifact digest or public key", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := rekor.SearchQuery{Email: email, Hash: sha}
			if artifact != "" {
				data, err := os.ReadFile(artifact)
				if err != nil {
					return fmt.Errorf("reading artifact %s: %w", artifact, err)
				}
				sum := sha256.Sum256(data)
				q.Hash = "sha256:" + hex.EncodeToString(sum[:])
			}
			if pubPath != "" {
				p, err := os.ReadFile(pubPath)
				if err != nil {
					return fmt.Errorf("reading public key %s: %w", pubPath, err)
				}
				if _, err := keys.ParsePublicKey(p); err != nil {
					return fmt.Errorf("public key %s: %w", pubPath, err)
				}
				q.PublicKey = &rekor.SearchKeyQuery{Format: "x509", Content: base64.StdEncoding.EncodeToString(p)}
			}
			if q.Email == "" && q.Hash == "" && q.PublicKey == nil {
				return fmt.Errorf("%w: give --email, --sha, --public-key or --artifact", errUsage)
			}
			f.trustedRoot = "" // search answers are UUIDs; nothing to check
			c, err := logClientOnly(f)
			if err != nil {
				return err
			}
			uuids, err := c.Search(cmd.Context(), q)
			if err != nil {
				return err
			}
			if len(uuids) == 0 {
				a.infof("No matching entries were found")
				return nil
			}
			a.infof("Found matching entries (listed by UUID):")
			for _, u := range uuids {
				fmt.Fprintln(a.stdout, u)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "signer e-mail (from a certificate)")
	cmd.Flags().StringVar(&sha, "sha", "", "artifact digest, sha256:<hex> or <hex>")
	cmd.Flags().StringVar(&pubPath, "public-key", "", "PEM public key file")
	cmd.Flags().StringVar(&artifact, "artifact", "", "file whose SHA-256 to search for")
	f.add(cmd)
	return cmd
}

func logClientOnly(f *logClientFlags) (*rekor.Client, error) {
	url, err := logURL(f.rekorURL, f.signingConfig)
	if err != nil {
		return nil, err
	}
	if url == "" {
		return nil, fmt.Errorf("%w: say which log: --rekor-url URL or --signing-config FILE", errUsage)
	}
	return rekor.NewClient(url, nil)
}

func (a *app) logVerifyCommand() *cobra.Command {
	f := &logClientFlags{}
	var uuid string
	var index int64
	cmd := &cobra.Command{
		Use: "verify (--uuid U | --log-index N)", Short: "Prove an entry is in the log (inclusion proof under the log's signed checkpoint, and its SET)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (uuid == "") == (index < 0) {
				return fmt.Errorf("%w: give exactly one of --uuid and --log-index", errUsage)
			}
			ctx := cmd.Context()
			c, lg, err := a.openLog(ctx, f)
			if err != nil {
				return err
			}
			u, le, err := fetchEntry(ctx, c, uuid, index)
			if err != nil {
				return err
			}
			if err := checkLogEntry(le, lg); err != nil {
				return withCode(exitNoMatchingSig, fmt.Errorf("entry %s: %w", u, err))
			}
			p := le.Verification.InclusionProof
			fmt.Fprintf(a.stdout, "Current Root Hash: %s\nEntry Hash: %s\nEntry Index: %d\nCurrent Tree Size: %d\n", p.RootHash, u, le.LogIndex, p.TreeSize)
			a.infof("Inclusion Proof Verified")
			return nil
		},
	}
	cmd.Flags().StringVar(&uuid, "uuid", "", "entry UUID")
	cmd.Flags().Int64Var(&index, "log-index", -1, "entry log index")
	f.add(cmd)
	return cmd
}

// monitorState is what `log consistency` remembers of a log: every
// checkpoint it verified, by size.
type monitorState struct {
	LogID       string            `json:"logID"`
	Checkpoints []savedCheckpoint `json:"checkpoints"`
}

type savedCheckpoint struct {
	Size     uint64 `json:"size"`
	RootHash string `json:"rootHash"`
	Signed   string `json:"signedTreeHead"`
}

func (a *app) logConsistencyCommand() *cobra.Command {
	f := &logClientFlags{}
	var from int64
	var state string
	cmd := &cobra.Command{
		Use:   "consistency [--from N]",
		Short: "Check the log is an extension of a checkpoint saved earlier (a tiny monitor)",
		Long: `Fetch the log's current checkpoint and verify a consistency proof from an earlier
checkpoint this command saved (the latest, or the one of size --from). A log that was
forked or rewritten fails. Each verified checkpoint is saved for the next run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, lg, err := a.openLog(ctx, f)
			if err != nil {
				return err
			}
			id := hex.EncodeToString(lg.ID)
			if state == "" {
				home, _ := os.UserHomeDir()
				state = filepath.Join(home, ".cache", "hallmark-monitor", id+".json")
			}
			st, err := loadMonitorState(state, id)
			if err != nil {
				return err
			}
			li, err := c.Info(ctx)
			if err != nil {
				return err
			}
			cur, err := tlog.VerifyCheckpoint([]byte(li.SignedTreeHead), lg.Key)
			if err != nil {
				return fmt.Errorf("log %s current checkpoint: %w", c.URL(), err)
			}
			var old *savedCheckpoint
			for i := range st.Checkpoints {
				s := &st.Checkpoints[i]
				if (from < 0 && (old == nil || s.Size > old.Size)) || (from >= 0 && s.Size == uint64(from)) {
					old = s
				}
			}
			if from >= 0 && old == nil {
				return fmt.Errorf("no saved checkpoint of size %d in %s (saved sizes: %v)", from, state, savedSizes(st))
			}
			if old != nil {
				oldRoot, _ := hex.DecodeString(old.RootHash)
				if cur.Size < old.Size {
					return withCode(exitNoMatchingSig, fmt.Errorf("log %s shrank: size %d now, %d saved earlier: the log was rewritten", c.URL(), cur.Size, old.Size))
				}
				proof, err := c.Consistency(ctx, int64(old.Size), int64(cur.Size))
				if err != nil {
					return err
				}
				hashes := make([][]byte, len(proof.Hashes))
				for i, h := range proof.Hashes {
					if hashes[i], err = hex.DecodeString(h); err != nil {
						return fmt.Errorf("consistency proof hash %d is not hex", i)
					}
				}
				if err := verify.LogGrowth(old.Size, oldRoot, cur, hashes); err != nil {
					return withCode(exitNoMatchingSig, fmt.Errorf("log %s is not consistent with its checkpoint of size %d saved earlier (forked or rewritten): %w", c.URL(), old.Size, err))
				}
				fmt.Fprintf(a.stdout, "Consistent: size %d (root %s) extends size %d (root %s)\n", cur.Size, hex.EncodeToString(cur.Hash), old.Size, old.RootHash)
			} else {
				fmt.Fprintf(a.stdout, "First checkpoint saved: size %d (root %s)\n", cur.Size, hex.EncodeToString(cur.Hash))
			}
			if slices.Contains(savedSizes(st), cur.Size) {
				return nil // the same tree (consistent, so the same root) is saved already
			}
			st.Checkpoints = append(st.Checkpoints, savedCheckpoint{Size: cur.Size, RootHash: hex.EncodeToString(cur.Hash), Signed: li.SignedTreeHead})
			return saveMonitorState(state, st)
		},
	}
	cmd.Flags().Int64Var(&from, "from", -1, "tree size of the saved checkpoint to prove from (default: the latest saved)")
	cmd.Flags().StringVar(&state, "state", "", "file holding saved checkpoints (default ~/.cache/hallmark-monitor/<logID>.json)")
	f.add(cmd)
	return cmd
}

func savedSizes(st *monitorState) []uint64 {
	var out []uint64
	for _, c := range st.Checkpoints {
		out = append(out, c.Size)
	}
	return out
}

func loadMonitorState(path, logID string) (*monitorState, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &monitorState{LogID: logID}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading monitor state %s: %w", path, err)
	}
	var st monitorState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("monitor state %s: %w", path, err)
	}
	if st.LogID != logID {
		return nil, fmt.Errorf("monitor state %s is for log %s, not %s", path, st.LogID, logID)
	}
	return &st, nil
}

func saveMonitorState(path string, st *monitorState) error {
	const keep = 64
	if len(st.Checkpoints) > keep {
		st.Checkpoints = st.Checkpoints[len(st.Checkpoints)-keep:]
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
