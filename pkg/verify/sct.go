package verify

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
)

var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// maxSCTs caps how many SCTs of one certificate are checked.
const maxSCTs = 32

// verifySCTs checks the SCTs embedded in leaf: each names a CT log of the
// trust material by its log ID, was issued inside that log's window, and is
// the log's signature over the precertificate (the leaf's TBS without the
// SCT list, bound to the issuer's key). At least sctThreshold distinct logs
// must verify. issuer is the certificate that issued leaf in its verified
// chain.
func (v *Verifier) verifySCTs(leaf, issuer *x509.Certificate) error {
	scts, err := embeddedSCTs(leaf)
	if err != nil {
		return stepErr(ErrSCT, "embedded SCT list", err)
	}
	if len(scts) == 0 {
		return stepErr(ErrSCT, "the certificate has no embedded SCT (--insecure-ignore-sct skips this check)", nil)
	}
	var tbs []byte
	verified := map[string]bool{}
	var errs []string
	for _, sct := range scts {
		id := sct.LogID.KeyID[:]
		lg := v.trust.FindCTLog(id)
		if lg == nil {
			errs = append(errs, fmt.Sprintf("SCT from CT log %x, which the trusted root does not list", id))
			continue
		}
		if verified[string(id)] {
			continue
		}
		if t := ct.TimestampToTime(sct.Timestamp); !lg.Window.Contains(t) {
			errs = append(errs, fmt.Sprintf("SCT from CT log %s issued at %s, outside its validity in the trusted root (%s)", lg.BaseURL, stamp(t), lg.Window))
			continue
		}
		if tbs == nil {
			if tbs, err = ctx509.RemoveSCTList(leaf.RawTBSCertificate); err != nil {
				return stepErr(ErrSCT, "rebuilding the precertificate", err)
			}
		}
		sv, err := ct.NewSignatureVerifier(lg.Key)
		if err != nil {
			errs = append(errs, fmt.Sprintf("CT log %s key: %v", lg.BaseURL, err))
			continue
		}
		entry := ct.LogEntry{Leaf: ct.MerkleTreeLeaf{
			Version: ct.V1, LeafType: ct.TimestampedEntryLeafType,
			TimestampedEntry: &ct.TimestampedEntry{
				Timestamp: sct.Timestamp, EntryType: ct.PrecertLogEntryType, Extensions: sct.Extensions,
				PrecertEntry: &ct.PreCert{IssuerKeyHash: sha256.Sum256(issuer.RawSubjectPublicKeyInfo), TBSCertificate: tbs},
			},
		}}
		if err := sv.VerifySCTSignature(*sct, entry); err != nil {
			errs = append(errs, fmt.Sprintf("SCT from CT log %s does not verify: %v", lg.BaseURL, err))
			continue
		}
		verified[string(id)] = true
	}
	if len(verified) < v.sctThreshold {
		return &StepError{Step: ErrSCT, Detail: fmt.Sprintf("%d of the certificate's SCTs verified, %d needed", len(verified), v.sctThreshold),
			Err: errors.New(strings.Join(errs, "; "))}
	}
	return nil
}

// embeddedSCTs parses the certificate's SCT list extension (RFC 6962 3.3):
// an OCTET STRING holding a TLS-encoded list. Any malformed SCT fails the
// whole list.
func embeddedSCTs(leaf *x509.Certificate) ([]*ct.SignedCertificateTimestamp, error) {
	for _, ext := range leaf.Extensions {
		if !ext.Id.Equal(oidSCTList) {
			continue
		}
		var octets []byte
		if rest, err := asn1.Unmarshal(ext.Value, &octets); err != nil || len(rest) != 0 {
			return nil, errors.New("SCT list extension is not an OCTET STRING")
		}
		var list ctx509.SignedCertificateTimestampList
		if rest, err := cttls.Unmarshal(octets, &list); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("SCT list is malformed: %v", err)
		}
		if len(list.SCTList) > maxSCTs {
			return nil, fmt.Errorf("%d SCTs, more than %d", len(list.SCTList), maxSCTs)
		}
		out := make([]*ct.SignedCertificateTimestamp, 0, len(list.SCTList))
		for i, s := range list.SCTList {
			var sct ct.SignedCertificateTimestamp
			if rest, err := cttls.Unmarshal(s.Val, &sct); err != nil || len(rest) != 0 {
				return nil, fmt.Errorf("SCT %d is malformed: %v", i, err)
			}
			out = append(out, &sct)
		}
		return out, nil
	}
	return nil, nil
}
