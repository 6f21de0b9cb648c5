package tlog

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"hallmark.dev/hallmark/pkg/keys"
)

// Checkpoint is a log's signed statement of its size and root hash.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   []byte
}

// NoteSigner signs checkpoints as Rekor v1 does: an ECDSA signature over the
// note text, with the key hint of the PKIX key. It implements
// golang.org/x/mod/sumdb/note.Signer, so Tessera can publish with it.
type NoteSigner struct {
	name string
	hash uint32
	key  crypto.Signer
}

// NewNoteSigner returns a checkpoint signer for origin (no spaces).
func NewNoteSigner(origin string, key crypto.Signer) (*NoteSigner, error) {
	if origin == "" || strings.ContainsAny(origin, " \t\n+") {
		return nil, fmt.Errorf("log origin %q must be non-empty with no spaces or '+'", origin)
	}
	if _, ok := key.Public().(*ecdsa.PublicKey); !ok {
		return nil, fmt.Errorf("log key must be ECDSA, got %T", key.Public())
	}
	h, err := keyHash(key.Public())
	if err != nil {
		return nil, err
	}
	return &NoteSigner{name: origin, hash: h, key: key}, nil
}

func (s *NoteSigner) Name() string    { return s.name }
func (s *NoteSigner) KeyHash() uint32 { return s.hash }
func (s *NoteSigner) Sign(msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	return s.key.Sign(rand.Reader, d[:], crypto.SHA256)
}

// maxCheckpointSize caps a signed checkpoint; real ones are a few hundred bytes.
const maxCheckpointSize = 16 << 10

// VerifyCheckpoint checks a signed checkpoint against the log key and
// returns its contents. At least one signature line must carry the key's
// hint and verify over the note text.
func VerifyCheckpoint(signed []byte, logKey crypto.PublicKey) (*Checkpoint, error) {
	if len(signed) > maxCheckpointSize {
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrCheckpoint, len(signed), maxCheckpointSize)
	}
	// A signed note is UTF-8 text with no control characters but newlines
	// (C2SP signed-note; Rekor's parser and x/mod's refuse the rest too).
	if !utf8.Valid(signed) || bytes.ContainsFunc(signed, func(r rune) bool { return r != '\n' && unicode.IsControl(r) }) {
		return nil, fmt.Errorf("%w: not UTF-8 text without control characters", ErrCheckpoint)
	}
	split := bytes.LastIndex(signed, []byte("\n\n"))
	if split < 0 {
		return nil, fmt.Errorf("%w: no blank line before the signatures", ErrCheckpoint)
	}
	text, sigs := signed[:split+1], signed[split+2:]
	cp, err := parseCheckpointBody(text)
	if err != nil {
		return nil, err
	}
	want, err := keyHash(logKey)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n") {
		name, b64, ok := strings.Cut(strings.TrimPrefix(line, "\u2014 "), " ")
		if !ok || !strings.HasPrefix(line, "\u2014 ") || name == "" || strings.ContainsFunc(name, unicode.IsSpace) || strings.ContainsRune(b64, ' ') {
			return nil, fmt.Errorf("%w: malformed signature line %q", ErrCheckpoint, line)
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) < 5 {
			return nil, fmt.Errorf("%w: malformed signature on line %q", ErrCheckpoint, line)
		}
		if binary.BigEndian.Uint32(raw[:4]) != want {
			continue // another signer's line (a witness, say)
		}
		if err := keys.Verify(logKey, text, raw[4:]); err != nil {
			return nil, fmt.Errorf("%w: signature by %s: %v", ErrCheckpoint, name, err)
		}
		return cp, nil
	}
	return nil, fmt.Errorf("%w: no signature by the trusted log key", ErrCheckpoint)
}

// parseCheckpointBody reads "origin\nsize\nbase64(root)\n[extension lines]".
func parseCheckpointBody(text []byte) (*Checkpoint, error) {
	lines := strings.Split(string(text), "\n")
	if len(lines) < 4 {
		return nil, fmt.Errorf("%w: want origin, size and root hash lines", ErrCheckpoint)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: size %q: %v", ErrCheckpoint, lines[1], err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != sha256.Size {
		return nil, fmt.Errorf("%w: root hash %q is not base64 of 32 bytes", ErrCheckpoint, lines[2])
	}
	if lines[0] == "" {
		return nil, errors.Join(ErrCheckpoint, errors.New("empty origin"))
	}
	return &Checkpoint{Origin: lines[0], Size: size, Hash: root}, nil
}
