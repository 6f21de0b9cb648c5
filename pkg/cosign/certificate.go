package cosign

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Fulcio's certificate extensions live under 1.3.6.1.4.1.57264.1 (Fulcio's
// docs/oid-info.md). .1–.6 hold raw strings; .8 on hold DER strings.
var fulcioArc = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1}

// OtherNameSANOID is the OtherName type Fulcio uses for a username SAN (.7).
var OtherNameSANOID = fulcioOID(7)

func fulcioOID(n int) asn1.ObjectIdentifier {
	return append(append(asn1.ObjectIdentifier{}, fulcioArc...), n)
}

// CertExtensions are the OIDC facts Fulcio writes into a signing
// certificate. JSON names are sigstore-go's (certificate.Extensions).
type CertExtensions struct {
	Issuer string `json:"issuer,omitempty"` // .8, or the deprecated .1

	// Deprecated GitHub Actions extensions (.2–.6), still matched by cosign's
	// --certificate-github-workflow-* flags.
	GithubWorkflowTrigger    string `json:"githubWorkflowTrigger,omitempty"`
	GithubWorkflowSHA        string `json:"githubWorkflowSHA,omitempty"`
	GithubWorkflowName       string `json:"githubWorkflowName,omitempty"`
	GithubWorkflowRepository string `json:"githubWorkflowRepository,omitempty"`
	GithubWorkflowRef        string `json:"githubWorkflowRef,omitempty"`

	BuildSignerURI                      string `json:"buildSignerURI,omitempty"`                      // .9
	BuildSignerDigest                   string `json:"buildSignerDigest,omitempty"`                   // .10
	RunnerEnvironment                   string `json:"runnerEnvironment,omitempty"`                   // .11
	SourceRepositoryURI                 string `json:"sourceRepositoryURI,omitempty"`                 // .12
	SourceRepositoryDigest              string `json:"sourceRepositoryDigest,omitempty"`              // .13
	SourceRepositoryRef                 string `json:"sourceRepositoryRef,omitempty"`                 // .14
	SourceRepositoryIdentifier          string `json:"sourceRepositoryIdentifier,omitempty"`          // .15
	SourceRepositoryOwnerURI            string `json:"sourceRepositoryOwnerURI,omitempty"`            // .16
	SourceRepositoryOwnerIdentifier     string `json:"sourceRepositoryOwnerIdentifier,omitempty"`     // .17
	BuildConfigURI                      string `json:"buildConfigURI,omitempty"`                      // .18
	BuildConfigDigest                   string `json:"buildConfigDigest,omitempty"`                   // .19
	BuildTrigger                        string `json:"buildTrigger,omitempty"`                        // .20
	RunInvocationURI                    string `json:"runInvocationURI,omitempty"`                    // .21
	SourceRepositoryVisibilityAtSigning string `json:"sourceRepositoryVisibilityAtSigning,omitempty"` // .22
	DeploymentEnvironment               string `json:"deploymentEnvironment,omitempty"`               // .23
	TokenSubject                        string `json:"tokenSubject,omitempty"`                        // .24
}

// field returns where extension .n is stored, and whether its value is
// DER-encoded (.8 on) rather than raw bytes (.1–.6).
func (e *CertExtensions) field(n int) (*string, bool) {
	switch n {
	case 1:
		return &e.Issuer, false
	case 2:
		return &e.GithubWorkflowTrigger, false
	case 3:
		return &e.GithubWorkflowSHA, false
	case 4:
		return &e.GithubWorkflowName, false
	case 5:
		return &e.GithubWorkflowRepository, false
	case 6:
		return &e.GithubWorkflowRef, false
	case 8:
		return &e.Issuer, true
	}
	der := []*string{
		&e.BuildSignerURI, &e.BuildSignerDigest, &e.RunnerEnvironment, &e.SourceRepositoryURI,
		&e.SourceRepositoryDigest, &e.SourceRepositoryRef, &e.SourceRepositoryIdentifier,
		&e.SourceRepositoryOwnerURI, &e.SourceRepositoryOwnerIdentifier, &e.BuildConfigURI,
		&e.BuildConfigDigest, &e.BuildTrigger, &e.RunInvocationURI, &e.SourceRepositoryVisibilityAtSigning,
		&e.DeploymentEnvironment, &e.TokenSubject,
	}
	if n >= 9 && n < 9+len(der) {
		return der[n-9], true
	}
	return nil, false
}

// ParseCertExtensions reads the Fulcio extensions of a certificate. As in
// sigstore-go, extensions are read in certificate order, so when both the
// deprecated issuer (.1) and the current one (.8) are present the later
// wins. A DER value that does not decode to a single string is an error.
func ParseCertExtensions(cert *x509.Certificate) (CertExtensions, error) {
	var out CertExtensions
	for _, ext := range cert.Extensions {
		id := ext.Id
		if len(id) != len(fulcioArc)+1 || !id[:len(fulcioArc)].Equal(fulcioArc) {
			continue
		}
		dst, der := out.field(id[len(fulcioArc)])
		if dst == nil {
			continue
		}
		if !der {
			*dst = string(ext.Value)
			continue
		}
		var s string
		rest, err := asn1.Unmarshal(ext.Value, &s)
		if err != nil || len(rest) != 0 {
			return CertExtensions{}, fmt.Errorf("certificate extension %s is not a DER string", id)
		}
		*dst = s
	}
	return out, nil
}

// MarshalCertExtensions returns e as certificate extensions, in OID order,
// with the issuer in .8 (and, when legacyIssuer, also in the deprecated .1).
func MarshalCertExtensions(e CertExtensions, legacyIssuer bool) ([]pkix.Extension, error) {
	var out []pkix.Extension
	for n := 1; n <= 24; n++ {
		dst, der := e.field(n)
		if dst == nil || *dst == "" || (n == 1 && !legacyIssuer) {
			continue
		}
		val := []byte(*dst)
		if der {
			var err error
			if val, err = utf8StringDER(*dst); err != nil {
				return nil, fmt.Errorf("certificate extension %v: %w", fulcioOID(n), err)
			}
		}
		out = append(out, pkix.Extension{Id: fulcioOID(n), Value: val})
	}
	return out, nil
}

// utf8StringDER is s as a DER UTF8String: what encoding/asn1 writes with
// the "utf8" parameter, without its reflection (a certificate carries up to
// 23 of these, and the CA writes one for every signature).
func utf8StringDER(s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("not valid UTF-8")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.UTF8String, func(c *cryptobyte.Builder) { c.AddBytes([]byte(s)) })
	return b.Bytes()
}

// CertSubject is the identity a Fulcio certificate was issued to, as
// sigstore-go reads it: the first URI SAN, else the first e-mail SAN, else
// the OtherName username (.7).
func CertSubject(cert *x509.Certificate) (string, error) {
	if len(cert.URIs) > 0 {
		return cert.URIs[0].String(), nil
	}
	if len(cert.EmailAddresses) > 0 {
		return cert.EmailAddresses[0], nil
	}
	name, err := otherNameSAN(cert)
	if err != nil {
		return "", err
	}
	if name == "" {
		return "", errors.New("certificate has no subject alternative name (URI, e-mail or username)")
	}
	return name, nil
}

var sanOID = asn1.ObjectIdentifier{2, 5, 29, 17}

// otherNameSAN returns the Fulcio username SAN: an OtherName of type .7
// holding [0] EXPLICIT UTF8String. Only one OtherName is allowed.
func otherNameSAN(cert *x509.Certificate) (string, error) {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(sanOID) {
			continue
		}
		var seq asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &seq); err != nil || len(rest) != 0 || !seq.IsCompound || seq.Tag != asn1.TagSequence {
			return "", errors.New("certificate SAN extension is malformed")
		}
		var found string
		rest := seq.Bytes
		for len(rest) > 0 {
			var gn asn1.RawValue
			var err error
			if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
				return "", errors.New("certificate SAN extension is malformed")
			}
			if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 {
				continue // not an OtherName
			}
			if found != "" {
				return "", errors.New("certificate has more than one OtherName SAN")
			}
			var on struct {
				ID    asn1.ObjectIdentifier
				Value asn1.RawValue `asn1:"tag:0,explicit"`
			}
			if r, err := asn1.UnmarshalWithParams(gn.FullBytes, &on, "tag:0"); err != nil || len(r) != 0 {
				return "", errors.New("certificate OtherName SAN is malformed")
			}
			if !on.ID.Equal(OtherNameSANOID) {
				return "", fmt.Errorf("certificate OtherName SAN has type %s, want %s", on.ID, OtherNameSANOID)
			}
			var s string
			if r, err := asn1.UnmarshalWithParams(on.Value.Bytes, &s, "utf8"); err != nil || len(r) != 0 {
				return "", errors.New("certificate OtherName SAN is not a UTF8String")
			}
			found = s
		}
		return found, nil
	}
	return "", nil
}

// ParseCertificatesPEM reads one or more PEM certificates (a chain, leaf
// first, as cosign writes its chain annotation and files).
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for len(data) > 0 {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, want CERTIFICATE", len(out), block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out), err)
		}
		out = append(out, c)
		if len(out) > maxChainLength {
			return nil, fmt.Errorf("more than %d certificates", maxChainLength)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

// maxChainLength caps a certificate chain read from a file or annotation.
const maxChainLength = 10

// FirstMismatch compares e with want field by field, for every field want
// sets, and returns the first that differs by its JSON name.
func (e CertExtensions) FirstMismatch(want CertExtensions) (field, wantValue, got string, differs bool) {
	ev, wv := reflect.ValueOf(e), reflect.ValueOf(want)
	t := ev.Type()
	for i := 0; i < t.NumField(); i++ {
		w := wv.Field(i).String()
		if w == "" {
			continue
		}
		if g := ev.Field(i).String(); g != w {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			return name, w, g, true
		}
	}
	return "", "", "", false
}

// MarshalUsernameSAN returns the critical SAN extension Fulcio writes for a
// username identity: one OtherName of type .7 holding name as an explicitly
// tagged UTF8String.
func MarshalUsernameSAN(name string) (pkix.Extension, error) {
	utf8, err := asn1.MarshalWithParams(name, "utf8")
	if err != nil {
		return pkix.Extension{}, err
	}
	on, err := asn1.Marshal(struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue
	}{OtherNameSANOID, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: utf8}})
	if err != nil {
		return pkix.Extension{}, err
	}
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(on, &seq); err != nil {
		return pkix.Extension{}, err
	}
	gn, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: seq.Bytes})
	if err != nil {
		return pkix.Extension{}, err
	}
	names, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: gn})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: sanOID, Critical: true, Value: names}, nil
}
