package admit

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"hallmark.dev/hallmark/pkg/check"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/imagepolicy"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/policy"
	"hallmark.dev/hallmark/pkg/trust"
	"hallmark.dev/hallmark/pkg/verify"
)

// authority is an imagepolicy.Authority compiled once: its verifier, its
// attestation policies, and the key its outcomes are cached under.
type authority struct {
	spec     imagepolicy.Authority
	key      string // cache key part: what is checked, under which trust
	verifier *verify.Verifier
	signer   string // who a pass means signed: a key fingerprint or identities
	atts     []attestationCheck
}

type attestationCheck struct {
	spec  imagepolicy.Attestation
	judge func(ctx context.Context, statement []byte) error // nil: any verified attestation of the type
}

// compileAuthority builds a's verifier under the trust material named by
// a.TrustRoot; where says where a is, for errors.
func compileAuthority(a imagepolicy.Authority, roots map[string]*trust.Material, secrets SecretReader, where string) (*authority, error) {
	out := &authority{spec: a}
	n := 0
	for _, set := range []bool{a.Key != nil, a.Keyless != nil, a.Static != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%s: an authority needs exactly one of key, keyless or static (got %d)", where, n)
	}
	switch a.SignatureFormat {
	case "", "bundle", "legacy":
	default:
		return nil, fmt.Errorf("%s: signatureFormat %q; want bundle or legacy", where, a.SignatureFormat)
	}
	if a.Static != nil {
		out.key = "static:" + a.Fingerprint()
		return out, nil
	}
	m, ok := roots[a.TrustRoot]
	if !ok {
		if a.TrustRoot == "" {
			m = &trust.Material{}
		} else {
			return nil, fmt.Errorf("%s: trust root %q is not one the server was given (--trust-root NAME=FILE)", where, a.TrustRoot)
		}
	}
	m, err := extendMaterial(m, a, where)
	if err != nil {
		return nil, err
	}
	opts := []verify.Option{verify.WithTrust(m)}
	if a.IgnoreTlog {
		opts = append(opts, verify.WithoutTlogUnsafe())
	}
	switch {
	case a.Key != nil:
		pemData := a.Key.PEM
		if a.Key.SecretRef != nil {
			if secrets == nil {
				return nil, fmt.Errorf("%s: key secretRef %s/%s needs a cluster to read it from (give the key as data, or run in a cluster)", where, a.Key.SecretRef.Namespace, a.Key.SecretRef.Name)
			}
			if pemData, err = secrets.PublicKey(context.Background(), *a.Key.SecretRef); err != nil {
				return nil, fmt.Errorf("%s: key secretRef: %w", where, err)
			}
		}
		pub, err := keys.ParsePublicKey([]byte(pemData))
		if err != nil {
			return nil, fmt.Errorf("%s: key: %w", where, err)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("%s: key: %w", where, err)
		}
		sum := sha256.Sum256(der)
		out.signer = "key sha256:" + hex.EncodeToString(sum[:8])
		if out.verifier, err = verify.NewKeyVerifier(pub, opts...); err != nil {
			return nil, fmt.Errorf("%s: key: %w", where, err)
		}
	case a.Keyless != nil:
		k := a.Keyless
		if k.IgnoreSCT {
			opts = append(opts, verify.WithoutSCTUnsafe())
		}
		if k.UseSignedTimestamps {
			opts = append(opts, verify.WithSignedTimestamps())
		}
		if len(m.CAs) == 0 {
			return nil, fmt.Errorf("%s: keyless: no certificate authority to trust (give ca-cert, or start the server with --trusted-root)", where)
		}
		var ids []verify.Identity
		var names []string
		for i, id := range k.Identities {
			if (id.Subject == "" && id.SubjectRegExp == "") || (id.Issuer == "" && id.IssuerRegExp == "") {
				return nil, fmt.Errorf("%s: keyless identities[%d]: needs an issuer (or issuerRegExp) and a subject (or subjectRegExp)", where, i)
			}
			ids = append(ids, verify.Identity{Subject: id.Subject, SubjectRegexp: id.SubjectRegExp, Issuer: id.Issuer, IssuerRegexp: id.IssuerRegExp})
			names = append(names, describeIdentity(id))
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("%s: keyless: at least one identity (issuer and subject) is required", where)
		}
		out.signer = strings.Join(names, " or ")
		if out.verifier, err = verify.NewCertificateVerifier(ids, opts...); err != nil {
			return nil, fmt.Errorf("%s: keyless: %w", where, err)
		}
	}
	for i, at := range a.Attestations {
		c := attestationCheck{spec: at}
		aw := fmt.Sprintf("%s attestations[%d] (%s)", where, i, at.Name)
		switch at.PolicyType {
		case "":
		case "rego", "cue":
			p, err := policy.Compile(aw, at.PolicyType, []byte(at.Policy), policy.PolicyController)
			if err != nil {
				return nil, err
			}
			c.judge = p.Evaluate
		case "conditions":
			conds, err := compileConditions(at.Conditions, aw)
			if err != nil {
				return nil, err
			}
			c.judge = conds.judge
		default:
			return nil, fmt.Errorf("%s: policy type %q; want rego, cue or conditions", aw, at.PolicyType)
		}
		out.atts = append(out.atts, c)
	}
	out.key = a.Fingerprint() + "|" + out.signer
	return out, nil
}

func describeIdentity(id imagepolicy.Identity) string {
	s, i := id.Subject, id.Issuer
	if s == "" {
		s = "~" + id.SubjectRegExp
	}
	if i == "" {
		i = "~" + id.IssuerRegExp
	}
	return fmt.Sprintf("%s (issuer %s)", s, i)
}

// extendMaterial adds the authority's own CA chain, log keys and TSA chain
// to a copy of m.
func extendMaterial(base *trust.Material, a imagepolicy.Authority, where string) (*trust.Material, error) {
	m := *base
	m.Logs = append([]trust.Log(nil), base.Logs...)
	m.CTLogs = append([]trust.Log(nil), base.CTLogs...)
	m.CAs = append([]trust.CA(nil), base.CAs...)
	m.TSAs = append([]trust.TSA(nil), base.TSAs...)
	for i, k := range a.TlogKeys {
		l, err := logFromPEM(k)
		if err != nil {
			return nil, fmt.Errorf("%s: transparency log key %d: %w", where, i, err)
		}
		m.Logs = append(m.Logs, l)
	}
	if a.Keyless == nil {
		return &m, nil
	}
	if a.Keyless.CACert != "" {
		certs, err := cosign.ParseCertificatesPEM([]byte(a.Keyless.CACert))
		if err != nil {
			return nil, fmt.Errorf("%s: ca-cert: %w", where, err)
		}
		m.CAs = append(m.CAs, trust.CA{URI: where, Root: certs[len(certs)-1], Intermediates: certs[:len(certs)-1]})
	}
	for i, k := range a.Keyless.CTLogKeys {
		l, err := logFromPEM(k)
		if err != nil {
			return nil, fmt.Errorf("%s: CT log key %d: %w", where, i, err)
		}
		m.CTLogs = append(m.CTLogs, l)
	}
	if a.Keyless.TSAChain != "" {
		certs, err := cosign.ParseCertificatesPEM([]byte(a.Keyless.TSAChain))
		if err != nil {
			return nil, fmt.Errorf("%s: TSA chain: %w", where, err)
		}
		t := trust.TSA{URI: where, Root: certs[len(certs)-1]}
		if len(certs) > 1 {
			t.Leaf, t.Intermediates = certs[0], certs[1:len(certs)-1]
		}
		m.TSAs = append(m.TSAs, t)
	}
	return &m, nil
}

func logFromPEM(p string) (trust.Log, error) {
	pub, err := keys.ParsePublicKey([]byte(p))
	if err != nil {
		return trust.Log{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return trust.Log{}, err
	}
	id := sha256.Sum256(der)
	return trust.Log{ID: id[:], Key: pub}, nil
}

// check verifies digest against the authority: signatures, or each of its
// attestations.
func (a *authority) check(ctx context.Context, clients func(source string) (*oci.Client, error), digest name.Digest, o check.Options) outcome {
	if s := a.spec.Static; s != nil {
		if s.Pass {
			return outcome{Pass: true, Signer: "static pass", Match: &authorityMatch{Static: true}}
		}
		msg := s.Message
		if msg == "" {
			msg = "the policy's static authority fails every image"
		}
		return outcome{Reason: "static fail: " + msg}
	}
	source := ""
	if len(a.spec.Sources) > 0 {
		source = a.spec.Sources[0]
	}
	c, err := clients(source)
	if err != nil {
		return outcome{Reason: err.Error()}
	}
	registry := digest.RegistryStr()
	if source != "" {
		registry = c.SignatureRepository(digest).RegistryStr()
	}
	if len(a.atts) == 0 {
		rep, err := check.Signatures(ctx, c, a.verifier, digest, verify.Policy{}, o)
		if err != nil {
			return classify(err, registry)
		}
		return a.signaturesOutcome(rep)
	}
	match := &authorityMatch{Attestations: map[string][]matchAttestation{}}
	for _, at := range a.atts {
		rep, err := check.Attestations(ctx, c, a.verifier, digest, verify.AttestationPolicy{PredicateType: at.spec.PredicateType}, o)
		if err != nil {
			out := classify(err, registry)
			out.Reason = fmt.Sprintf("attestation %s (%s): %s", at.spec.Name, at.spec.PredicateType, out.Reason)
			return out
		}
		out, passed := a.judgeAttestations(ctx, at, rep)
		if !out.Pass {
			return out
		}
		for _, att := range passed {
			sum := sha256.Sum256(att.Statement)
			match.Attestations[at.spec.Name] = append(match.Attestations[at.spec.Name], matchAttestation{
				matchSignature: signatureOf(att.Result), PredicateType: att.PredicateType, Digest: "sha256:" + hex.EncodeToString(sum[:])})
		}
	}
	return outcome{Pass: true, Signer: a.signer, Match: match}
}

// signatureOf is a verified signature as spec.policy reads it.
func signatureOf(r *verify.Result) matchSignature {
	if r == nil || r.Certificate == nil {
		return matchSignature{}
	}
	x := r.Certificate.Extensions
	return matchSignature{Subject: r.Certificate.Subject, Issuer: x.Issuer, GithubWorkflowTrigger: x.GithubWorkflowTrigger,
		GithubWorkflowSHA: x.GithubWorkflowSHA, GithubWorkflowName: x.GithubWorkflowName, GithubWorkflowRepo: x.GithubWorkflowRepository,
		GithubWorkflowRef: x.GithubWorkflowRef}
}

func (a *authority) signaturesOutcome(rep *check.Report) outcome {
	want := map[string]verify.Format{"bundle": verify.FormatBundle, "legacy": verify.FormatLegacy}[a.spec.SignatureFormat]
	match := &authorityMatch{}
	for _, r := range rep.Results {
		if want == "" || r.Format == want {
			match.Signatures = append(match.Signatures, signatureOf(r))
		}
	}
	if len(match.Signatures) > 0 {
		return outcome{Pass: true, Signer: a.signer, Match: match}
	}
	return outcome{Reason: fmt.Sprintf("signatureFormat: want %s, got %d verified signature(s) only in the other format", a.spec.SignatureFormat, len(rep.Results))}
}

// judgeAttestations passes when at least one verified attestation of the
// type satisfies the policy (every one, with RequireAll); the reason names
// what did not. passed are the attestations that satisfied it.
func (a *authority) judgeAttestations(ctx context.Context, at attestationCheck, rep *check.AttestationReport) (outcome, []*verify.Attestation) {
	if at.judge == nil {
		return outcome{Pass: true, Signer: a.signer}, rep.Attestations
	}
	var errs []error
	var passed []*verify.Attestation
	for i, att := range rep.Attestations {
		err := at.judge(ctx, att.Statement)
		switch {
		case err != nil && at.spec.RequireAll:
			return outcome{Reason: fmt.Sprintf("attestation %s (%s): every verified attestation must satisfy the policy; number %d of %d does not: %s", at.spec.Name, at.spec.PredicateType, i+1, len(rep.Attestations), oneLine(err.Error()))}, nil
		case err != nil:
			errs = append(errs, err)
		default:
			passed = append(passed, att)
		}
	}
	if len(passed) > 0 {
		return outcome{Pass: true, Signer: a.signer}, passed
	}
	return outcome{Reason: fmt.Sprintf("attestation %s (%s): %d verified, none satisfied the policy: %s", at.spec.Name, at.spec.PredicateType, len(rep.Attestations), oneLine(errors.Join(errs...).Error()))}, nil
}
