package cosign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TrustedRootMediaType is the media type sigstore-go and cosign accept for
// a trusted root.
const TrustedRootMediaType = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"

// NewTrustedRoot returns an empty trusted root.
func NewTrustedRoot() *TrustedRoot { return &TrustedRoot{MediaType: TrustedRootMediaType} }

// Window is a validity window; a zero end is open.
type Window struct{ Start, End time.Time }

func (w Window) proto() *protocommon.TimeRange {
	r := &protocommon.TimeRange{Start: timestamppb.New(w.Start)}
	if !w.End.IsZero() {
		r.End = timestamppb.New(w.End)
	}
	return r
}

// LogKeyDetails names a log or CT key as protobuf-specs' PublicKeyDetails.
func LogKeyDetails(pub crypto.PublicKey) (protocommon.PublicKeyDetails, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256, nil
		case elliptic.P384():
			return protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384, nil
		case elliptic.P521():
			return protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512, nil
		}
	case ed25519.PublicKey:
		return protocommon.PublicKeyDetails_PKIX_ED25519, nil
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256, nil
		case 3072:
			return protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256, nil
		case 4096:
			return protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_4096_SHA256, nil
		}
	}
	return 0, fmt.Errorf("unsupported log key %T", pub)
}

func logInstance(url string, pub crypto.PublicKey, id []byte, w Window) (*prototrustroot.TransparencyLogInstance, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	details, err := LogKeyDetails(pub)
	if err != nil {
		return nil, err
	}
	return &prototrustroot.TransparencyLogInstance{
		BaseUrl:       url,
		HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
		PublicKey:     &protocommon.PublicKey{RawBytes: der, KeyDetails: details, ValidFor: w.proto()},
		LogId:         &protocommon.LogId{KeyId: id},
	}, nil
}

// AddTlog adds a transparency log; id is its log ID (or, for a log signing
// C2SP checkpoints under an origin, its checkpoint key ID).
func AddTlog(tr *TrustedRoot, url string, pub crypto.PublicKey, id []byte, w Window) error {
	l, err := logInstance(url, pub, id, w)
	if err != nil {
		return err
	}
	tr.Tlogs = append(tr.Tlogs, l)
	return nil
}

// AddCTLog adds a certificate transparency log with log ID id.
func AddCTLog(tr *TrustedRoot, url string, pub crypto.PublicKey, id []byte, w Window) error {
	l, err := logInstance(url, pub, id, w)
	if err != nil {
		return err
	}
	tr.Ctlogs = append(tr.Ctlogs, l)
	return nil
}

func authority(url string, chain []*x509.Certificate, w Window) *prototrustroot.CertificateAuthority {
	ca := &prototrustroot.CertificateAuthority{Uri: url, CertChain: &protocommon.X509CertificateChain{}, ValidFor: w.proto()}
	for _, c := range chain {
		ca.CertChain.Certificates = append(ca.CertChain.Certificates, &protocommon.X509Certificate{RawBytes: c.Raw})
	}
	root := chain[len(chain)-1]
	ca.Subject = &protocommon.DistinguishedName{CommonName: root.Subject.CommonName}
	if len(root.Subject.Organization) > 0 {
		ca.Subject.Organization = root.Subject.Organization[0]
	}
	return ca
}

// AddCA adds a certificate authority: chain runs from the issuing
// certificate to the root.
func AddCA(tr *TrustedRoot, url string, chain []*x509.Certificate, w Window) error {
	if len(chain) == 0 {
		return fmt.Errorf("CA %s: empty certificate chain", url)
	}
	tr.CertificateAuthorities = append(tr.CertificateAuthorities, authority(url, chain, w))
	return nil
}

// AddTSA adds a timestamp authority: chain runs from its signing (leaf)
// certificate to the root.
func AddTSA(tr *TrustedRoot, url string, chain []*x509.Certificate, w Window) error {
	if len(chain) == 0 {
		return fmt.Errorf("TSA %s: empty certificate chain", url)
	}
	if chain[0].IsCA {
		return fmt.Errorf("TSA %s: the first certificate in the chain must be the signing (leaf) certificate", url)
	}
	tr.TimestampAuthorities = append(tr.TimestampAuthorities, authority(url, chain, w))
	return nil
}

// Service is one service of a signing config.
type Service struct {
	URL        string
	APIVersion uint32
	Operator   string
	Window     Window
}

func (s Service) proto() *prototrustroot.Service {
	return &prototrustroot.Service{Url: s.URL, MajorApiVersion: s.APIVersion, Operator: s.Operator, ValidFor: s.Window.proto()}
}

// Selector says how many of a signing config's logs or TSAs a signer uses.
type Selector struct {
	Kind  prototrustroot.ServiceSelector // ALL, ANY or EXACT
	Count uint32                         // for EXACT
}

// SigningServices are what a signing config names.
type SigningServices struct {
	CAs, OIDC, Rekor, TSA []Service
	RekorSelector         Selector
	TSASelector           Selector
}

// NewSigningConfig returns a v0.2 signing config naming s.
func NewSigningConfig(s SigningServices) *SigningConfig {
	sc := &SigningConfig{MediaType: SigningConfigMediaType}
	for _, v := range s.CAs {
		sc.CaUrls = append(sc.CaUrls, v.proto())
	}
	for _, v := range s.OIDC {
		sc.OidcUrls = append(sc.OidcUrls, v.proto())
	}
	for _, v := range s.Rekor {
		sc.RekorTlogUrls = append(sc.RekorTlogUrls, v.proto())
	}
	for _, v := range s.TSA {
		sc.TsaUrls = append(sc.TsaUrls, v.proto())
	}
	sc.RekorTlogConfig = &prototrustroot.ServiceConfiguration{Selector: s.RekorSelector.Kind, Count: s.RekorSelector.Count}
	sc.TsaConfig = &prototrustroot.ServiceConfiguration{Selector: s.TSASelector.Kind, Count: s.TSASelector.Count}
	return sc
}
