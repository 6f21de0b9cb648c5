package keys

import "testing"

// FuzzDecryptPrivateKey: no input may panic; the password is a cheap one so
// the fuzzer is not stuck in scrypt (real parameters are checked first).
func FuzzDecryptPrivateKey(f *testing.F) {
	f.Add([]byte(pemOf(`{"kdf":{"name":"scrypt","params":{"N":2,"r":1,"p":1},"salt":"AAAA"},"cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"ciphertext":"AAAA"}`)))
	f.Add([]byte("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\ne30=\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = DecryptPrivateKey(data, []byte("pw"))
	})
}

func FuzzParsePublicKey(f *testing.F) {
	k, _ := Generate()
	p, _ := MarshalPublicKey(k.Public())
	f.Add(p)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParsePublicKey(data)
		_, _ = ParsePlainPrivateKey(data)
	})
}
