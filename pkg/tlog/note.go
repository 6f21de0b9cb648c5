package tlog

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"regexp"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"hallmark.dev/hallmark/pkg/keys"
)

// v1Origin is the first line of a Rekor v1 checkpoint: "<origin> - <treeID>".
var v1Origin = regexp.MustCompile(`^.* - [0-9]+$`)

// IsV1Checkpoint reports whether a signed checkpoint is shaped like Rekor
// v1's (its origin line ends in " - <tree ID>"), as sigstore-go tells the
// two apart; anything else is a C2SP checkpoint, as Rekor v2 logs sign.
func IsV1Checkpoint(signed []byte) bool {
	lines := bytes.SplitN(signed, []byte("\n"), 5)
	return len(lines) >= 4 && v1Origin.Match(lines[0])
}

// VerifyNoteCheckpoint checks a C2SP signed-note checkpoint (Rekor v2): the
// log's signature under origin must be there and verify, other signers'
// lines (witness co-signatures) are ignored, the checkpoint's origin line
// must be origin, and extension lines after the root hash are allowed.
func VerifyNoteCheckpoint(signed []byte, origin string, logKey crypto.PublicKey) (*Checkpoint, error) {
	if len(signed) > maxCheckpointSize {
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrCheckpoint, len(signed), maxCheckpointSize)
	}
	v, err := NewNoteVerifier(origin, logKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	cp, _, _, err := log.ParseCheckpoint(signed, origin, v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	return &Checkpoint{Origin: cp.Origin, Size: cp.Size, Hash: cp.Hash}, nil
}

// noteVerifier verifies a log key's signatures on a signed note.
type noteVerifier struct {
	name string
	hash uint32
	key  crypto.PublicKey
}

// NewNoteVerifier returns a note.Verifier for a log key under name. Key
// hashes follow protobuf-specs' checkpoint key ID: for Ed25519, C2SP's
// SHA-256(name || 0x0A || 0x01 || key); for ECDSA, SHA-256 of the PKIX key
// (as Rekor names it); for RSA, C2SP's 0xff type with the
// "PKIX-RSA-PKCS#1v1.5" identifier.
func NewNoteVerifier(name string, key crypto.PublicKey) (note.Verifier, error) {
	id, err := CheckpointKeyID(name, key)
	if err != nil {
		return nil, err
	}
	return &noteVerifier{name: name, hash: binary.BigEndian.Uint32(id[:4]), key: key}, nil
}

// CheckpointKeyID is the 32-byte key ID a trusted root records for a log
// that signs C2SP checkpoints under origin (the note key hash is its first
// four bytes): see NewNoteVerifier for each key type.
func CheckpointKeyID(origin string, key crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	var id [32]byte
	switch k := key.(type) {
	case ed25519.PublicKey:
		id = sha256.Sum256(append(append([]byte(origin+"\n"), 0x01), k...))
	case *ecdsa.PublicKey:
		id = sha256.Sum256(der)
	case *rsa.PublicKey:
		id = sha256.Sum256(append(append([]byte(origin+"\n"), 0xff), append([]byte("PKIX-RSA-PKCS#1v1.5"), der...)...))
	default:
		return nil, fmt.Errorf("log key type %T cannot sign checkpoints", key)
	}
	return id[:], nil
}

func (v *noteVerifier) Name() string    { return v.name }
func (v *noteVerifier) KeyHash() uint32 { return v.hash }
func (v *noteVerifier) Verify(msg, sig []byte) bool {
	if k, ok := v.key.(ed25519.PublicKey); ok {
		return ed25519.Verify(k, msg, sig)
	}
	return keys.Verify(v.key, msg, sig) == nil
}
