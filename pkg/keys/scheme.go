package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
)

// Scheme is how a key of one type signs a message: the hash applied to the
// message first and a name for error messages.
type Scheme struct {
	Name string
	Hash crypto.Hash
}

// SchemeFor returns the scheme cosign uses for a public key: ECDSA P-256 with
// SHA-256, P-384 with SHA-384, P-521 with SHA-512, RSA PKCS#1 v1.5 with SHA-256
// (2048 bits or more), and Ed25519.
func SchemeFor(pub crypto.PublicKey) (Scheme, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return Scheme{"ecdsa-p256-sha256", crypto.SHA256}, nil
		case elliptic.P384():
			return Scheme{"ecdsa-p384-sha384", crypto.SHA384}, nil
		case elliptic.P521():
			return Scheme{"ecdsa-p521-sha512", crypto.SHA512}, nil
		}
		return Scheme{}, fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return Scheme{}, fmt.Errorf("RSA key of %d bits is too small (at least 2048)", k.N.BitLen())
		}
		return Scheme{fmt.Sprintf("rsa-%d-pkcs1v15-sha256", k.N.BitLen()), crypto.SHA256}, nil
	case ed25519.PublicKey:
		// cosign signs with Ed25519ph (the only variant hashedrekord logs);
		// Verify also accepts pure Ed25519, which older cosign wrote.
		return Scheme{"ed25519ph", crypto.SHA512}, nil
	}
	return Scheme{}, fmt.Errorf("unsupported key type %T", pub)
}

// digest hashes msg with h.
func digest(h crypto.Hash, msg []byte) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(msg)
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384(msg)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(msg)
		return d[:]
	}
	hh := h.New()
	hh.Write(msg)
	return hh.Sum(nil)
}

// Sign signs msg with priv under the key's scheme.
func Sign(priv crypto.Signer, msg []byte) ([]byte, error) {
	s, err := SchemeFor(priv.Public())
	if err != nil {
		return nil, err
	}
	return SignDigest(priv, digest(s.Hash, msg))
}

// SignDigest signs a message already hashed with the key's scheme hash
// (SchemeFor(priv.Public()).Hash): what Sign signs, for a caller that
// streamed the message through the hash rather than holding it.
func SignDigest(priv crypto.Signer, d []byte) ([]byte, error) {
	s, err := SchemeFor(priv.Public())
	if err != nil {
		return nil, err
	}
	if len(d) != s.Hash.Size() {
		return nil, fmt.Errorf("a %s signature needs a %d-byte digest, not %d bytes", s.Name, s.Hash.Size(), len(d))
	}
	var opts crypto.SignerOpts = s.Hash
	if _, ok := priv.Public().(ed25519.PublicKey); ok {
		opts = &ed25519.Options{Hash: crypto.SHA512}
	}
	return priv.Sign(rand.Reader, d, opts)
}

// SignDeterministic is Sign with ECDSA nonces derived from the key and the
// message (RFC 6979) rather than hedged with randomness: the same message
// always gets the same signature (RSA PKCS#1 v1.5 and Ed25519 always do).
// For signers that are not in-memory keys it is Sign.
func SignDeterministic(priv crypto.Signer, msg []byte) ([]byte, error) {
	k, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		return Sign(priv, msg)
	}
	s, err := SchemeFor(k.Public())
	if err != nil {
		return nil, err
	}
	return k.Sign(nil, digest(s.Hash, msg), s.Hash)
}

// ErrBadSignature is returned when a signature does not verify.
var ErrBadSignature = errors.New("signature does not verify under the public key")

// Verify checks sig over msg under pub. It returns ErrBadSignature (wrapped)
// when the signature is wrong and another error when the key is unusable.
func Verify(pub crypto.PublicKey, msg, sig []byte) error {
	s, err := SchemeFor(pub)
	if err != nil {
		return err
	}
	if k, ok := pub.(ed25519.PublicKey); ok && ed25519.Verify(k, msg, sig) {
		return nil // pure Ed25519, as cosign < 2.2 signed
	}
	return VerifyDigest(pub, s, digest(s.Hash, msg), sig)
}

// VerifyDigest checks sig over a message already hashed with s.Hash.
func VerifyDigest(pub crypto.PublicKey, s Scheme, d, sig []byte) error {
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, d, sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, s.Hash, d, sig) == nil
	case ed25519.PublicKey:
		ok = ed25519.VerifyWithOptions(k, d, sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
	}
	if !ok {
		return fmt.Errorf("%w (%s)", ErrBadSignature, s.Name)
	}
	return nil
}
