package verify

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

// verifyChain checks that leaf chains to a trusted CA at time t: the CA's
// window in the trusted root contains t, and every certificate of the chain
// (leaf, intermediates, root) was valid at t and allows code signing. It
// returns the verified chains (leaf first). Certificates a signature carries
// besides its leaf are never trusted: intermediates come from the trusted
// root only.
func (v *Verifier) verifyChain(leaf *x509.Certificate, t time.Time) ([][]*x509.Certificate, error) {
	// Fulcio marks a username-only SAN critical; Go leaves such an
	// OtherName SAN unhandled. It is read and matched by the identity check.
	if slices.ContainsFunc(leaf.UnhandledCriticalExtensions, oidSAN.Equal) {
		c := *leaf
		c.UnhandledCriticalExtensions = slices.DeleteFunc(slices.Clone(leaf.UnhandledCriticalExtensions), oidSAN.Equal)
		leaf = &c
	}
	var errs []string
	for _, p := range v.cas {
		if !p.ca.Window.Contains(t) {
			errs = append(errs, fmt.Sprintf("CA %s: signing time %s is outside its validity in the trusted root (%s)", caName(p.ca.Root), stamp(t), p.ca.Window))
			continue
		}
		if chains := p.verifyAnchored(leaf, t); chains != nil {
			return chains, nil
		}
		chains, err := leaf.Verify(x509.VerifyOptions{
			Roots: p.roots, Intermediates: p.inters, CurrentTime: t,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		})
		if err == nil {
			return chains, nil
		}
		errs = append(errs, fmt.Sprintf("CA %s: %v", caName(p.ca.Root), err))
	}
	return nil, &StepError{Step: ErrCertificate, Detail: fmt.Sprintf("certificate issued by %q does not chain to a trusted CA at %s", leaf.Issuer.String(), stamp(t)),
		Err: errors.New(strings.Join(errs, "; "))}
}

// checkLeaf checks what the chain check leaves open: the leaf is a
// code-signing certificate (explicitly: Go treats a missing EKU as any use),
// not a CA, and was valid at t.
func checkLeaf(leaf *x509.Certificate, t time.Time) error {
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageCodeSigning) {
		return mismatch(ErrCertificate, "extended key usage", "codeSigning", fmt.Sprint(ekuNames(leaf)))
	}
	if leaf.IsCA {
		return stepErr(ErrCertificate, "signing certificate is a CA certificate", nil)
	}
	if t.Before(leaf.NotBefore) || t.After(leaf.NotAfter) {
		return mismatch(ErrCertificate, "signing certificate was not valid at the time of signing",
			fmt.Sprintf("%s to %s", stamp(leaf.NotBefore), stamp(leaf.NotAfter)), stamp(t))
	}
	return nil
}

func ekuNames(c *x509.Certificate) []string {
	var out []string
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageCodeSigning:
			out = append(out, "codeSigning")
		case x509.ExtKeyUsageServerAuth:
			out = append(out, "serverAuth")
		case x509.ExtKeyUsageClientAuth:
			out = append(out, "clientAuth")
		case x509.ExtKeyUsageTimeStamping:
			out = append(out, "timeStamping")
		case x509.ExtKeyUsageAny:
			out = append(out, "any")
		default:
			out = append(out, fmt.Sprintf("eku(%d)", u))
		}
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

func caName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return fmt.Sprintf("%q", c.Subject.CommonName)
	}
	return fmt.Sprintf("%q", c.Subject.String())
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// The chain check above the leaf's issuer is the same for every signature:
// the trusted root's intermediates chain to its root whatever the leaf. An
// anchor is an intermediate whose chain up to the root was verified once,
// when the verifier was built; verifyAnchored then checks a leaf against
// the anchor alone (one signature instead of the whole chain's) and the
// rest of the chain at the time of signing: its validity and path lengths.
// Anything it cannot decide (a leaf issued by the root itself, a chain with
// name or policy constraints) is left to the full x509 verification, which
// also words every failure.
type anchor struct {
	cert  *x509.Certificate
	above []*x509.Certificate // the verified chain from cert's issuer up to the root
}

// anchors verifies each intermediate of the CA up to its root.
func anchors(p caPools) []anchor {
	var out []anchor
	for _, c := range p.ca.Intermediates {
		if !c.BasicConstraintsValid || !c.IsCA {
			continue
		}
		chains, err := c.Verify(x509.VerifyOptions{
			Roots: p.roots, Intermediates: p.inters, CurrentTime: c.NotBefore,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		})
		if err != nil || len(chains) != 1 {
			continue
		}
		above := chains[0][1:]
		if slices.ContainsFunc(above, constrained) {
			continue
		}
		out = append(out, anchor{cert: c, above: above})
	}
	return out
}

// constrained reports a CA certificate whose name or policy constraints the
// anchored check would not apply.
func constrained(c *x509.Certificate) bool {
	return len(c.PermittedDNSDomains)+len(c.ExcludedDNSDomains)+len(c.PermittedIPRanges)+len(c.ExcludedIPRanges)+
		len(c.PermittedEmailAddresses)+len(c.ExcludedEmailAddresses)+len(c.PermittedURIDomains)+len(c.ExcludedURIDomains) > 0 ||
		len(c.UnhandledCriticalExtensions) > 0 || c.RequireExplicitPolicy > 0 || c.RequireExplicitPolicyZero ||
		c.InhibitPolicyMapping > 0 || c.InhibitPolicyMappingZero || c.InhibitAnyPolicy > 0 || c.InhibitAnyPolicyZero
}

// verifyAnchored returns leaf's chain through an anchor that issued it, or
// nil when no anchor decides (then the full verification runs).
func (p caPools) verifyAnchored(leaf *x509.Certificate, t time.Time) [][]*x509.Certificate {
	for _, a := range p.anchors {
		if !bytes.Equal(leaf.RawIssuer, a.cert.RawSubject) {
			continue
		}
		pool := x509.NewCertPool()
		pool.AddCertWithConstraint(a.cert, func(chain []*x509.Certificate) error {
			// chain is [leaf, anchor]: the anchor is one CA below its
			// issuer, so each certificate above sees one more CA below it.
			for i, c := range a.above {
				if t.Before(c.NotBefore) || t.After(c.NotAfter) {
					return errors.New("outside validity")
				}
				if c.BasicConstraintsValid && (c.MaxPathLen > 0 || c.MaxPathLenZero) && i+1 > c.MaxPathLen {
					return errors.New("path too long")
				}
			}
			return nil
		})
		chains, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: t, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
		if err != nil || len(chains) == 0 {
			return nil
		}
		return [][]*x509.Certificate{append(slices.Clone(chains[0]), a.above...)}
	}
	return nil
}
