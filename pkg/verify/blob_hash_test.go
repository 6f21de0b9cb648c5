package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"strings"
	"testing"
)

// HashBlob's digests are the bytes' digests, SHA-256 always, and an
// unknown algorithm is refused by name.
func TestHashBlob(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000) // > one 64 KiB read
	b, err := HashBlob(bytes.NewReader(data), "sha384", "sha512")
	if err != nil {
		t.Fatal(err)
	}
	s256, s384, s512 := sha256.Sum256(data), sha512.Sum384(data), sha512.Sum512(data)
	for alg, want := range map[string][]byte{"sha256": s256[:], "sha384": s384[:], "sha512": s512[:]} {
		if got := b.Digest(alg); !bytes.Equal(got, want) {
			t.Errorf("%s: %x, want %x", alg, got, want)
		}
	}
	if _, err := HashBlob(strings.NewReader("x"), "md5"); err == nil || !strings.Contains(err.Error(), `"md5"`) {
		t.Fatalf("HashBlob with md5: %v, want a refusal naming it", err)
	}
}
