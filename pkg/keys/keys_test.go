package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func testKeys(t *testing.T) map[string]crypto.Signer {
	t.Helper()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	r, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return map[string]crypto.Signer{"p256": p256, "p384": p384, "p521": p521, "rsa2048": r, "ed25519": ed}
}

func TestSignVerifyEveryScheme(t *testing.T) {
	msg := []byte("message")
	others := testKeys(t)
	for name, k := range testKeys(t) {
		t.Run(name, func(t *testing.T) {
			sig, err := Sign(k, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(k.Public(), msg, sig); err != nil {
				t.Fatalf("own signature: %v", err)
			}
			if err := Verify(k.Public(), []byte("messagE"), sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("tampered message: got %v, want ErrBadSignature", err)
			}
			if err := Verify(others[name].Public(), msg, sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("wrong key: got %v, want ErrBadSignature", err)
			}
			bad := append([]byte{}, sig...)
			bad[len(bad)/2] ^= 1
			if err := Verify(k.Public(), msg, bad); !errors.Is(err, ErrBadSignature) {
				t.Errorf("flipped signature bit: got %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestPureEd25519Accepted(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sig := ed25519.Sign(priv, []byte("m"))
	if err := Verify(pub, []byte("m"), sig); err != nil {
		t.Fatalf("pure Ed25519 signature (older cosign) refused: %v", err)
	}
}

func TestEncryptedKeyRoundTrip(t *testing.T) {
	for name, k := range testKeys(t) {
		if name != "p256" && name != "ed25519" {
			continue // scrypt is slow; two key types cover PKCS#8 round trips
		}
		t.Run(name, func(t *testing.T) {
			enc, err := EncryptPrivateKey(k, []byte("pw"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(enc), "-----BEGIN "+SigstorePrivateKeyPEMType) {
				t.Fatalf("wrong PEM type:\n%s", enc)
			}
			got, err := DecryptPrivateKey(enc, []byte("pw"))
			if err != nil {
				t.Fatal(err)
			}
			sig, _ := Sign(got, []byte("x"))
			if err := Verify(k.Public(), []byte("x"), sig); err != nil {
				t.Fatal("decrypted key is not the original")
			}
			if _, err := DecryptPrivateKey(enc, []byte("wrong")); !errors.Is(err, ErrWrongPassword) {
				t.Errorf("wrong password: got %v, want ErrWrongPassword", err)
			}
			// The legacy cosign PEM type holds the same content.
			block, _ := pem.Decode(enc)
			block.Type = CosignPrivateKeyPEMType
			if _, err := DecryptPrivateKey(pem.EncodeToMemory(block), []byte("pw")); err != nil {
				t.Errorf("legacy %s refused: %v", CosignPrivateKeyPEMType, err)
			}
			block.Type = "PRIVATE KEY"
			if _, err := DecryptPrivateKey(pem.EncodeToMemory(block), []byte("pw")); err == nil {
				t.Error("a plain PRIVATE KEY block was accepted as an encrypted key")
			}
		})
	}
}

func TestEmptyPasswordAllowed(t *testing.T) {
	k, _ := Generate()
	enc, err := EncryptPrivateKey(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecryptPrivateKey(enc, []byte{}); err != nil {
		t.Fatalf("empty password: %v", err)
	}
}

func TestMalformedKeyFiles(t *testing.T) {
	cases := map[string]string{
		"empty":       "",
		"not pem":     "hello",
		"bad json":    "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGpzb24=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
		"unknown kdf": pemOf(`{"kdf":{"name":"argon","params":{},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":""},"ciphertext":""}`),
		"zero params": pemOf(`{"kdf":{"name":"scrypt","params":{"N":0,"r":0,"p":0},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":""},"ciphertext":""}`),
		"short nonce": pemOf(`{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"AAAA"},"cipher":{"name":"nacl/secretbox","nonce":"AAAA"},"ciphertext":"AAAA"}`),
		"public key":  "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
		"oversized":   strings.Repeat("A", maxKeyFileSize+1),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecryptPrivateKey([]byte(in), []byte("pw")); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func pemOf(s string) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: SigstorePrivateKeyPEMType, Bytes: []byte(s)}))
}

func TestParsePublicKey(t *testing.T) {
	k, _ := Generate()
	p, err := MarshalPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePublicKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if !got.(*ecdsa.PublicKey).Equal(k.Public()) {
		t.Fatal("round trip changed the key")
	}
	for _, bad := range []string{"", "x", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"} {
		if _, err := ParsePublicKey([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// SignDeterministic signatures verify, and repeat for the same message.
func TestSignDeterministic(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, k := range []crypto.Signer{p256, p384, ed} {
		a, err := SignDeterministic(k, []byte("message"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := SignDeterministic(k, []byte("message"))
		if !bytes.Equal(a, b) {
			t.Errorf("%T: two signatures of one message", k)
		}
		if err := Verify(k.Public(), []byte("message"), a); err != nil {
			t.Errorf("%T: %v", k, err)
		}
		if err := Verify(k.Public(), []byte("other"), a); err == nil {
			t.Errorf("%T: signature verified over another message", k)
		}
	}
}
