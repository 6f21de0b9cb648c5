package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// leafEncoder writes Fulcio-profile leaf certificates directly: the same DER
// crypto/x509 writes for the same template (TestEncoderMatchesCrypto checks
// byte for byte), without its re-verification of every signature it makes,
// which costs as much as the signature check of the request itself. It is
// ready for one issuing certificate and key.
type leafEncoder struct {
	signer  crypto.Signer
	hash    crypto.Hash
	algID   []byte // the signature AlgorithmIdentifier, DER
	issuer  []byte // the issuing certificate's subject, DER
	akid    []byte // the issuing certificate's subject key ID
	hashOpt crypto.SignerOpts
}

var (
	oidKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidEKU         = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidSKID        = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidAKID        = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidSAN         = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidCodeSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}
)

// newLeafEncoder prepares an encoder for the issuing certificate and its
// key, or says it cannot (the CA then uses crypto/x509).
func newLeafEncoder(issuer *x509.Certificate, key crypto.Signer) (*leafEncoder, error) {
	e := &leafEncoder{signer: key, issuer: issuer.RawSubject, akid: issuer.SubjectKeyId}
	var oid asn1.ObjectIdentifier
	nullParams := false
	switch k := key.Public().(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			e.hash, oid = crypto.SHA256, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
		case elliptic.P384():
			e.hash, oid = crypto.SHA384, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
		case elliptic.P521():
			e.hash, oid = crypto.SHA512, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
		default:
			return nil, errors.New("unsupported curve")
		}
		e.hashOpt = e.hash
	case *rsa.PublicKey:
		e.hash, oid, nullParams = crypto.SHA256, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, true
		e.hashOpt = e.hash
	case ed25519.PublicKey:
		oid, e.hashOpt = asn1.ObjectIdentifier{1, 3, 101, 112}, crypto.Hash(0)
	default:
		return nil, fmt.Errorf("unsupported CA key %T", key.Public())
	}
	alg := pkix.AlgorithmIdentifier{Algorithm: oid}
	if nullParams {
		alg.Parameters = asn1.NullRawValue
	}
	var err error
	if e.algID, err = asn1.Marshal(alg); err != nil {
		return nil, err
	}
	if len(e.akid) == 0 {
		return nil, errors.New("the issuing certificate has no subject key ID")
	}
	return e, nil
}

// encode writes and signs the certificate for tmpl (as CA.template fills
// it) and the key whose SubjectPublicKeyInfo is spki, returning its DER.
func (e *leafEncoder) encode(t *x509.Certificate, spki []byte) ([]byte, error) {
	tbs, err := e.tbs(t, spki)
	if err != nil {
		return nil, err
	}
	return e.signTBS(tbs)
}

// tbs writes the TBSCertificate for t and pub. It writes DER by hand into
// one buffer (lengths patched in as each element closes): a certificate is
// issued for every signature, and cryptobyte's nested builders cost more
// allocations than the rest of the encoding.
func (e *leafEncoder) tbs(t *x509.Certificate, spki []byte) ([]byte, error) {
	for _, addr := range t.EmailAddresses {
		for i := 0; i < len(addr); i++ {
			if addr[i] >= 0x80 {
				return nil, requestErr("the e-mail address %q is not ASCII, which a certificate cannot hold", addr)
			}
		}
	}
	serial := t.SerialNumber.Bytes()
	if len(serial) == 0 || serial[0]&0x80 != 0 {
		serial = append([]byte{0}, serial...) // DER INTEGER: positive, minimal
	}
	w := derWriter{buf: make([]byte, 0, 768+len(spki)+extraLen(t.ExtraExtensions))}
	tbs := w.open(0x30)
	w.raw([]byte{0xa0, 0x03, 0x02, 0x01, 0x02}) // [0] EXPLICIT version v3
	w.tlv(0x02, serial)
	w.raw(e.algID)
	w.raw(e.issuer)
	validity := w.open(0x30)
	w.time(t.NotBefore)
	w.time(t.NotAfter)
	w.close(validity)
	w.raw([]byte{0x30, 0x00}) // empty subject
	w.raw(spki)
	exts := w.open(0xa3)
	list := w.open(0x30)
	// crypto/x509's order: key usage, EKU, SKID, AKID, SAN, then the extra
	// extensions as given.
	w.raw(extKeyUsageDER)
	w.raw(extEKUCodeSigningDER)
	ext := w.extension(oidSKIDDER, false)
	w.tlv(0x04, t.SubjectKeyId)
	w.closeExtension(ext)
	ext = w.extension(oidAKIDDER, false)
	akid := w.open(0x30)
	w.tlv(0x80, e.akid)
	w.close(akid)
	w.closeExtension(ext)
	if len(t.EmailAddresses)+len(t.URIs) > 0 {
		ext = w.extension(oidSANDER, true)
		names := w.open(0x30)
		for _, a := range t.EmailAddresses {
			w.tlv(0x81, []byte(a))
		}
		for _, u := range t.URIs {
			us := u.String()
			if !isIA5(us) {
				return nil, requestErr("the URI %q is not ASCII, which a certificate cannot hold", us)
			}
			w.tlv(0x86, []byte(us))
		}
		w.close(names)
		w.closeExtension(ext)
	}
	for _, x := range t.ExtraExtensions {
		oid, err := appendOID(w.oid[:0], x.Id)
		if err != nil {
			return nil, err
		}
		w.oid = oid
		ext = w.extension(oid, x.Critical)
		w.raw(x.Value)
		w.closeExtension(ext)
	}
	w.close(list)
	w.close(exts)
	w.close(tbs)
	return w.buf, nil
}

// signTBS signs a TBSCertificate and wraps it as a certificate.
func (e *leafEncoder) signTBS(tbs []byte) ([]byte, error) {
	digest := tbs
	if e.hash != 0 {
		h := e.hash.New()
		h.Write(tbs)
		digest = h.Sum(nil)
	}
	sig, err := e.signer.Sign(rand.Reader, digest, e.hashOpt)
	if err != nil {
		return nil, fmt.Errorf("ca: signing the certificate: %w", err)
	}
	var c cryptobyte.Builder
	c.AddASN1(cbasn1.SEQUENCE, func(cert *cryptobyte.Builder) {
		cert.AddBytes(tbs)
		cert.AddBytes(e.algID)
		cert.AddASN1BitString(sig)
	})
	return c.Bytes()
}

// Fixed encodings: the key usage extension (critical, digitalSignature), the
// EKU extension (code signing), and the OIDs of the others.
var (
	extKeyUsageDER       = mustDER(asn1.Marshal(pkix.Extension{Id: oidKeyUsage, Critical: true, Value: []byte{0x03, 0x02, 0x07, 0x80}}))
	extEKUCodeSigningDER = mustDER(asn1.Marshal(pkix.Extension{Id: oidEKU, Value: mustDER(asn1.Marshal([]asn1.ObjectIdentifier{oidCodeSigning}))}))
	oidSKIDDER           = mustDER(asn1.Marshal(oidSKID))
	oidAKIDDER           = mustDER(asn1.Marshal(oidAKID))
	oidSANDER            = mustDER(asn1.Marshal(oidSAN))
)

func extraLen(exts []pkix.Extension) int {
	n := 0
	for _, x := range exts {
		n += len(x.Value) + 32
	}
	return n
}

// derWriter appends DER to one buffer. open reserves a long-form length
// (four bytes) that close fills in and, when shorter, compacts.
type derWriter struct {
	buf []byte
	oid []byte // scratch for an extension's OID
}

func (w *derWriter) raw(b []byte) { w.buf = append(w.buf, b...) }

func (w *derWriter) tlv(tag byte, content []byte) {
	w.buf = append(w.buf, tag)
	w.buf = appendLength(w.buf, len(content))
	w.buf = append(w.buf, content...)
}

// open starts a constructed element and returns where it starts.
func (w *derWriter) open(tag byte) int {
	at := len(w.buf)
	w.buf = append(w.buf, tag, 0, 0, 0, 0)
	return at
}

// close ends the element open returned at: its length goes in, in the
// shortest form, and the content moves up if the form is shorter.
func (w *derWriter) close(at int) {
	content := len(w.buf) - at - 5
	var hdr [5]byte
	h := appendLength(hdr[:0], content)
	n := copy(w.buf[at+1:], h)
	if n < 4 {
		copy(w.buf[at+1+n:], w.buf[at+5:])
		w.buf = w.buf[:len(w.buf)-(4-n)]
	}
}

// extension opens an Extension and its extnValue OCTET STRING; the value
// goes in between, and closeExtension closes both.
func (w *derWriter) extension(oidDER []byte, critical bool) [2]int {
	at := w.open(0x30)
	w.raw(oidDER)
	if critical {
		w.raw([]byte{0x01, 0x01, 0xff})
	}
	return [2]int{at, w.open(0x04)}
}

func (w *derWriter) closeExtension(at [2]int) {
	w.close(at[1])
	w.close(at[0])
}

// time writes a validity time as RFC 5280 wants: UTCTime through 2049,
// GeneralizedTime after.
func (w *derWriter) time(t time.Time) {
	t = t.UTC()
	if t.Year() >= 1950 && t.Year() < 2050 {
		w.tlv(0x17, []byte(t.Format("060102150405Z0700")))
		return
	}
	w.tlv(0x18, []byte(t.Format("20060102150405Z0700")))
}

// appendOID appends oid's DER (tag, length, content), as encoding/asn1
// writes it, refusing what it refuses and negative components too (which it
// writes).
func appendOID(b []byte, oid asn1.ObjectIdentifier) ([]byte, error) {
	if len(oid) < 2 || oid[0] > 2 || (oid[0] < 2 && oid[1] >= 40) || oid[0] < 0 || oid[1] < 0 {
		return nil, fmt.Errorf("ca: invalid object identifier %v", oid)
	}
	var body [64]byte
	c := appendBase128(body[:0], oid[0]*40+oid[1])
	for _, v := range oid[2:] {
		if v < 0 {
			return nil, fmt.Errorf("ca: invalid object identifier %v", oid)
		}
		c = appendBase128(c, v)
	}
	b = append(b, 0x06)
	b = appendLength(b, len(c))
	return append(b, c...), nil
}

func appendBase128(b []byte, v int) []byte {
	n := 1
	for t := v >> 7; t > 0; t >>= 7 {
		n++
	}
	for i := n - 1; i >= 0; i-- {
		c := byte(v>>(7*i)) & 0x7f
		if i > 0 {
			c |= 0x80
		}
		b = append(b, c)
	}
	return b
}

func appendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x100:
		return append(b, 0x81, byte(n))
	case n < 0x10000:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n < 1<<24:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	panic("ca: DER element over 16 MiB") // bodies and tokens are capped far below
}

func mustDER(b []byte, err error) []byte {
	if err != nil {
		panic(err) // only fixed, well-formed values are marshalled here
	}
	return b
}
