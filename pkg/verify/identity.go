package verify

import (
	"fmt"
	"regexp"
	"regexp/syntax"

	"hallmark.dev/hallmark/pkg/cosign"
)

// Identity is who a keyless signature must come from: the certificate's
// subject (its SAN: e-mail, URI or username) and OIDC issuer, each exactly
// or by regular expression, and optionally Fulcio extension values (cosign's
// --certificate-github-workflow-* flags).
//
// As in cosign and sigstore-go, a regular expression matches anywhere in the
// value unless it is anchored with ^ and $; when both the exact value and the
// expression are given, both must match.
type Identity struct {
	Subject, SubjectRegexp string
	Issuer, IssuerRegexp   string
	Extensions             cosign.CertExtensions

	subjectRE, issuerRE *regexp.Regexp
}

func (id *Identity) validate() error {
	if id.Subject == "" && id.SubjectRegexp == "" {
		return fmt.Errorf("%w: an identity needs a subject or subject regexp (--certificate-identity or --certificate-identity-regexp)", ErrIdentity)
	}
	if id.Issuer == "" && id.IssuerRegexp == "" {
		return fmt.Errorf("%w: an identity needs an issuer or issuer regexp (--certificate-oidc-issuer or --certificate-oidc-issuer-regexp)", ErrIdentity)
	}
	var err error
	if id.SubjectRegexp != "" {
		if id.subjectRE, err = regexp.Compile(id.SubjectRegexp); err != nil {
			return fmt.Errorf("%w: subject regexp %q: %v", ErrIdentity, id.SubjectRegexp, err)
		}
	}
	if id.IssuerRegexp != "" {
		if id.issuerRE, err = regexp.Compile(id.IssuerRegexp); err != nil {
			return fmt.Errorf("%w: issuer regexp %q: %v", ErrIdentity, id.IssuerRegexp, err)
		}
	}
	if id.Extensions.Issuer != "" {
		return fmt.Errorf("%w: give the issuer as Issuer, not as an extension", ErrIdentity)
	}
	return nil
}

// Unanchored says how a certificate regexp that is not anchored at both ends
// is looser than it may look ("" when it is anchored, or does not compile):
// "^https://github.com/org/" also matches "https://github.com/org/../evil",
// without "^" it matches anywhere in the value, "x^https://github.com/org/"
// included, and in "^a|b$" each alternative is anchored at one end only.
func Unanchored(re string) string {
	r, err := syntax.Parse(re, syntax.Perl)
	if re == "" || err != nil {
		return ""
	}
	switch start, end := anchoredAt(r, true), anchoredAt(r, false); {
	case start && end:
		return ""
	case start:
		return "matches any value that begins with a match"
	case end:
		return "matches any value that ends with a match"
	default:
		return "matches anywhere in the value"
	}
}

// anchoredAt reports whether every match of r must begin at the start of the
// text (start) or end at its end (!start).
func anchoredAt(r *syntax.Regexp, start bool) bool {
	switch r.Op {
	case syntax.OpBeginText:
		return start
	case syntax.OpEndText:
		return !start
	case syntax.OpCapture:
		return anchoredAt(r.Sub[0], start)
	case syntax.OpConcat:
		if len(r.Sub) == 0 {
			return false
		}
		if start {
			return anchoredAt(r.Sub[0], start)
		}
		return anchoredAt(r.Sub[len(r.Sub)-1], start)
	case syntax.OpAlternate:
		for _, sub := range r.Sub {
			if !anchoredAt(sub, start) {
				return false
			}
		}
		return len(r.Sub) > 0
	}
	return false
}

// String describes the identity for messages.
func (id *Identity) String() string {
	s := "subject "
	if id.Subject != "" {
		s += fmt.Sprintf("%q", id.Subject)
	} else {
		s += "matching " + fmt.Sprintf("%q", id.SubjectRegexp)
	}
	s += ", issuer "
	if id.Issuer != "" {
		s += fmt.Sprintf("%q", id.Issuer)
	} else {
		s += "matching " + fmt.Sprintf("%q", id.IssuerRegexp)
	}
	return s
}

// match checks a certificate's subject and extensions against the identity.
func (id *Identity) match(subject string, ext cosign.CertExtensions) error {
	if id.Subject != "" && subject != id.Subject {
		return mismatch(ErrIdentity, "certificate subject", id.Subject, subject)
	}
	if id.subjectRE != nil && !id.subjectRE.MatchString(subject) {
		return mismatch(ErrIdentity, "certificate subject", "match of "+id.SubjectRegexp, subject)
	}
	if id.Issuer != "" && ext.Issuer != id.Issuer {
		return mismatch(ErrIdentity, "certificate OIDC issuer", id.Issuer, ext.Issuer)
	}
	if id.issuerRE != nil && !id.issuerRE.MatchString(ext.Issuer) {
		return mismatch(ErrIdentity, "certificate OIDC issuer", "match of "+id.IssuerRegexp, ext.Issuer)
	}
	if field, want, got, bad := ext.FirstMismatch(id.Extensions); bad {
		return mismatch(ErrIdentity, "certificate extension "+field, want, got)
	}
	return nil
}

// matchAny checks the certificate against every identity and succeeds on the
// first match; otherwise it returns the reason the first identity failed.
func matchAny(ids []Identity, subject string, ext cosign.CertExtensions) error {
	var first error
	for i := range ids {
		err := ids[i].match(subject, ext)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}
