package verify

import (
	"crypto/x509"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"

	"hallmark.dev/hallmark/pkg/cosign"
)

// bundleMaterial reads a bundle's verification material: its signing
// certificate (the v0.3 certificate, or the first of a chain: the rest of a
// chain is never trusted), log entries and RFC 3161 timestamps. A bundle
// signed with a certificate is refused by a key verifier and a key-signed
// one by a keyless verifier, as sigstore-go does.
func (v *Verifier) bundleMaterial(b *cosign.Bundle) (signature, error) {
	vm := b.GetVerificationMaterial()
	s := signature{entries: vm.GetTlogEntries()}
	for _, ts := range vm.GetTimestampVerificationData().GetRfc3161Timestamps() {
		s.timestamps = append(s.timestamps, ts.GetSignedTimestamp())
	}
	var der []byte
	switch c := vm.GetContent().(type) {
	case *protobundle.VerificationMaterial_Certificate:
		der = c.Certificate.GetRawBytes()
	case *protobundle.VerificationMaterial_X509CertificateChain:
		if certs := c.X509CertificateChain.GetCertificates(); len(certs) > 0 {
			der = certs[0].GetRawBytes()
		}
		if len(der) == 0 {
			return s, stepErr(ErrFormat, "the bundle's certificate chain is empty", nil)
		}
	case *protobundle.VerificationMaterial_PublicKey:
		return s, nil
	}
	if v.key != nil {
		return s, stepErr(ErrFormat, "the bundle was signed with a certificate, not a key: verify it with --certificate-identity and --certificate-oidc-issuer", nil)
	}
	if len(der) == 0 {
		return s, stepErr(ErrFormat, "the bundle's certificate is empty", nil)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return s, stepErr(ErrCertificate, "parsing the signing certificate", err)
	}
	s.certs = []*x509.Certificate{cert}
	return s, nil
}
