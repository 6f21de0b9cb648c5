package tlog

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

// RFC 6962 test vectors from transparency-dev/merkle: every inclusion proof
// of the reference tree verifies, against the published root hashes; a
// proof for the wrong leaf, index or root does not.
func TestInclusionRFC6962Vectors(t *testing.T) {
	leaves := testonly.LeafInputs()
	roots := testonly.RootHashes()
	for size := 1; size <= len(leaves); size++ {
		tree := testonly.New(rfc6962.DefaultHasher)
		tree.AppendData(leaves[:size]...)
		if !bytes.Equal(tree.Hash(), roots[size]) {
			t.Fatalf("reference root of size %d differs from the RFC 6962 vector", size)
		}
		for i := 0; i < size; i++ {
			p, err := tree.InclusionProof(uint64(i), uint64(size))
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(leaves[i], uint64(i), uint64(size), p, roots[size]); err != nil {
				t.Errorf("size %d leaf %d: %v", size, i, err)
			}
			if err := VerifyInclusion(append([]byte("x"), leaves[i]...), uint64(i), uint64(size), p, roots[size]); !errors.Is(err, ErrInclusion) {
				t.Errorf("size %d leaf %d: wrong leaf accepted", size, i)
			}
			if size > 1 {
				if err := VerifyInclusion(leaves[i], uint64((i+1)%size), uint64(size), p, roots[size]); err == nil {
					t.Errorf("size %d leaf %d: wrong index accepted", size, i)
				}
			}
		}
	}
}

func TestConsistencyManySizes(t *testing.T) {
	tree := testonly.New(rfc6962.DefaultHasher)
	var roots [][]byte
	for i := 0; i < 70; i++ {
		tree.AppendData([]byte{byte(i), byte(i >> 8)})
		roots = append(roots, tree.Hash())
	}
	for s1 := 1; s1 <= 70; s1++ {
		for s2 := s1; s2 <= 70; s2 += 1 + s2/8 {
			p, err := tree.ConsistencyProof(uint64(s1), uint64(s2))
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(uint64(s1), uint64(s2), p, roots[s1-1], roots[s2-1]); err != nil {
				t.Fatalf("%d -> %d: %v", s1, s2, err)
			}
			if s1 < s2 {
				forked := append([]byte{}, roots[s1-1]...)
				forked[0] ^= 1
				if err := VerifyConsistency(uint64(s1), uint64(s2), p, forked, roots[s2-1]); !errors.Is(err, ErrConsistency) {
					t.Fatalf("%d -> %d: a forked earlier root was accepted", s1, s2)
				}
			}
		}
	}
}

func logKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signedCheckpoint(t *testing.T, k *ecdsa.PrivateKey, origin string, size uint64, root []byte) []byte {
	s, err := NewNoteSigner(origin, k)
	if err != nil {
		t.Fatal(err)
	}
	text := log.Checkpoint{Origin: origin + " - 42", Size: size, Hash: root}.Marshal()
	b, err := note.Sign(&note.Note{Text: string(text)}, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckpoint(t *testing.T) {
	k, other := logKey(t), logKey(t)
	root := bytes.Repeat([]byte{7}, 32)
	cp := signedCheckpoint(t, k, "example.org/log", 12, root)
	got, err := VerifyCheckpoint(cp, &k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != 12 || !bytes.Equal(got.Hash, root) || got.Origin != "example.org/log - 42" {
		t.Fatalf("parsed %+v", got)
	}
	if _, err := VerifyCheckpoint(cp, &other.PublicKey); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("wrong key: %v", err)
	}
	tampered := bytes.Replace(cp, []byte("\n12\n"), []byte("\n13\n"), 1)
	if _, err := VerifyCheckpoint(tampered, &k.PublicKey); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("tampered size: %v", err)
	}
	for _, bad := range []string{"", "no blank line", "a\n1\nAAAA\n\n— a AAAAAAA=\n", string(cp[:len(cp)-10]) + "\n"} {
		if _, err := VerifyCheckpoint([]byte(bad), &k.PublicKey); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if _, err := NewNoteSigner("has space", k); err == nil {
		t.Error("origin with a space accepted")
	}
}

func TestSET(t *testing.T) {
	k, other := logKey(t), logKey(t)
	id, _ := LogIDHex(&k.PublicKey)
	body := []byte(`{"kind":"hashedrekord"}`)
	set, err := SignSET(k, body, 1700000000, 5, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySET(&k.PublicKey, set, body, 1700000000, 5, id); err != nil {
		t.Fatal(err)
	}
	// Deterministic: an entry has one SET, however often it is fetched.
	if again, _ := SignSET(k, body, 1700000000, 5, id); !bytes.Equal(again, set) {
		t.Error("signing the same SET twice gave two signatures")
	}
	if sixth, _ := SignSET(k, body, 1700000000, 6, id); bytes.Equal(sixth, set) {
		t.Error("two entries' SETs are the same signature")
	}
	wrong := []struct {
		name string
		err  error
	}{
		{"other key", VerifySET(&other.PublicKey, set, body, 1700000000, 5, id)},
		{"other body", VerifySET(&k.PublicKey, set, []byte(`{}`), 1700000000, 5, id)},
		{"other time", VerifySET(&k.PublicKey, set, body, 1700000001, 5, id)},
		{"other index", VerifySET(&k.PublicKey, set, body, 1700000000, 6, id)},
		{"other log", VerifySET(&k.PublicKey, set, body, 1700000000, 5, strings.Repeat("0", 64))},
		{"no SET", VerifySET(&k.PublicKey, nil, body, 1700000000, 5, id)},
	}
	for _, w := range wrong {
		if !errors.Is(w.err, ErrSET) {
			t.Errorf("%s: got %v, want ErrSET", w.name, w.err)
		}
	}
	// The payload is RFC 8785 canonical JSON, as Rekor signs it.
	want := `{"body":"eyJraW5kIjoiaGFzaGVkcmVrb3JkIn0=","integratedTime":1700000000,"logID":"` + id + `","logIndex":5}`
	if got := string(SETPayload(body, 1700000000, 5, id)); got != want {
		t.Errorf("SET payload\n%s\nwant\n%s", got, want)
	}
	// Whatever the log ID, the payload is what encoding/json writes.
	for _, logID := range []string{id, "", "ABCDEF", `a"b<c>\d`} {
		want, _ := json.Marshal(setPayload{Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: -3, LogID: logID, LogIndex: 1 << 40})
		if got := SETPayload(body, -3, 1<<40, logID); !bytes.Equal(got, want) {
			t.Errorf("log ID %q: payload\n%s\nwant\n%s", logID, got, want)
		}
	}
}
