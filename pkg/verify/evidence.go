package verify

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
)

// signature is one signature in any storage format, reduced to what the
// checks need.
type signature struct {
	// what names the signature in errors ("DSSE envelope").
	what string
	// sig is the signature's bytes: RFC 3161 timestamps imprint them and
	// log entries record them.
	sig []byte
	// verify checks the signature over its content under pub.
	verify func(pub crypto.PublicKey) error
	// match builds the check that a log entry records this signature by the
	// given signer.
	match func(signer signerMatch) entryMatcher
	// certs is the signing certificate, then any chain the signature
	// carries (ignored for trust); empty for key-signed signatures.
	certs      []*x509.Certificate
	entries    []*protorekor.TransparencyLogEntry
	timestamps [][]byte
}

// proof is what judge established about a signature.
type proof struct {
	cert    *CertificateInfo
	entries []loggedEntry
	// times are the times the signing certificate was checked at, and
	// timeSources what gave each.
	times       []time.Time
	timeSources []string
	// timestamps are the signature's RFC 3161 timestamps, as given.
	timestamps [][]byte
}

// CertificateInfo is the signing certificate of a verified keyless
// signature and the identity it proved.
type CertificateInfo struct {
	Certificate *x509.Certificate
	Subject     string
	Extensions  cosign.CertExtensions
}

// judge makes every check that does not depend on the signature's format:
// the signature under the key or the certificate's key, the log entries and
// their thresholds, and for a certificate the time of signing, the chain
// at that time, the SCT and the identity. Each failure names its step.
func (v *Verifier) judge(s signature) (*proof, error) {
	var (
		pub     crypto.PublicKey = v.key
		leaf    *x509.Certificate
		leafDER []byte
	)
	if v.key == nil {
		if len(s.certs) == 0 {
			return nil, stepErr(ErrNoCertificate, "the signature carries no signing certificate (a key-signed signature verifies with --key)", nil)
		}
		leaf, leafDER = s.certs[0], s.certs[0].Raw
		pub = leaf.PublicKey
		if _, err := keys.SchemeFor(pub); err != nil {
			return nil, stepErr(ErrCertificate, "signing certificate key", err)
		}
	}
	if err := s.verify(pub); err != nil {
		under := "under the public key"
		if leaf != nil {
			under = "under the signing certificate's key"
		}
		return nil, stepErr(ErrSignature, s.what+" "+under, err)
	}
	p := &proof{timestamps: s.timestamps}
	var skipped []string
	if !v.ignoreTlog {
		if len(s.entries) == 0 {
			return nil, stepErr(ErrTlog, "no transparency log entry came with the signature (verification is offline and looks none up: the entry travels with the signature, in its bundle or annotations; pass --insecure-ignore-tlog to accept a signature without one)", nil)
		}
		if len(v.trust.Logs) == 0 {
			return nil, stepErr(ErrTlog, "signature has a transparency log entry, but no log is trusted: pass --trusted-root naming the log's key (or --insecure-ignore-tlog to skip the log check)", nil)
		}
		var err error
		if p.entries, skipped, err = v.verifyEntries(s.entries, s.match(v.signerMatcher(leafDER))); err != nil {
			return nil, err
		}
	}
	ts := &lazyTimestamps{v: v, responses: s.timestamps, sig: s.sig}
	if !v.ignoreTlog {
		var err error
		if p.entries, skipped, err = v.countEntries(p.entries, skipped, ts); err != nil {
			return nil, err
		}
	}
	if leaf == nil {
		// A key has no certificate to date, but timestamps asked for
		// (--use-signed-timestamps) must still verify, as many as needed.
		if v.signedTimestamps {
			if err := v.requireTimestamps(ts); err != nil {
				return nil, err
			}
		}
		return p, nil
	}
	times, sources, err := v.signingTimes(p.entries, ts)
	if err != nil {
		return nil, err
	}
	p.times, p.timeSources = times, sources
	for _, e := range p.entries {
		if it := e.tle.GetIntegratedTime(); it != 0 {
			if t := time.Unix(it, 0); t.Before(leaf.NotBefore) || t.After(leaf.NotAfter) {
				return nil, mismatch(ErrCertificate, fmt.Sprintf("log %s integrated the signature outside the certificate's validity", e.log.BaseURL),
					fmt.Sprintf("%s to %s", stamp(leaf.NotBefore), stamp(leaf.NotAfter)), stamp(t))
			}
		}
	}
	var chains [][]*x509.Certificate
	for _, t := range times {
		if err := checkLeaf(leaf, t); err != nil {
			return nil, err
		}
		if chains, err = v.verifyChain(leaf, t); err != nil {
			return nil, err
		}
	}
	if !v.ignoreSCT {
		if len(chains) == 0 || len(chains[0]) < 2 {
			return nil, stepErr(ErrSCT, "the certificate has no issuer in its chain to check its SCT against", nil)
		}
		if err := v.verifySCTs(leaf, chains[0][1]); err != nil {
			return nil, err
		}
	}
	subject, err := cosign.CertSubject(leaf)
	if err != nil {
		return nil, stepErr(ErrCertificate, "subject", err)
	}
	ext, err := cosign.ParseCertExtensions(leaf)
	if err != nil {
		return nil, stepErr(ErrCertificate, "Fulcio extensions", err)
	}
	if err := matchAny(v.identities, subject, ext); err != nil {
		return nil, err
	}
	p.cert = &CertificateInfo{Certificate: leaf, Subject: subject, Extensions: ext}
	return p, nil
}

// countEntries applies the log-key window to entries that carry no signed
// time (a proof only): from a log whose key is not valid now, such an entry
// counts only if a verified RFC 3161 timestamp puts the signature inside the
// key's window. It then requires entries from tlogThreshold distinct logs.
func (v *Verifier) countEntries(entries []loggedEntry, skipped []string, ts *lazyTimestamps) ([]loggedEntry, []string, error) {
	now := v.now()
	logs := map[string]bool{}
	var kept []loggedEntry
	for _, e := range entries {
		if e.setTime.IsZero() && !e.log.Window.Contains(now) && !ts.inside(e.log.Window) {
			skipped = append(skipped, fmt.Sprintf("entry at log index %d is proven only by an inclusion proof, from log %s whose key is valid %s, not now: no signed time (SET or RFC 3161 timestamp) puts it inside that window",
				e.tle.GetLogIndex(), e.log.BaseURL, e.log.Window))
			continue
		}
		kept = append(kept, e)
		logs[string(e.log.ID)] = true
	}
	if len(logs) < v.tlogThreshold {
		detail := "no log entry verified"
		if v.tlogThreshold > 1 {
			detail = fmt.Sprintf("entries from %d distinct logs verified, %d needed", len(logs), v.tlogThreshold)
		}
		return nil, nil, &StepError{Step: ErrTlog, Detail: detail, Err: joinReasons(skipped)}
	}
	return kept, skipped, nil
}

// signingTimes returns the times a signing certificate must have been valid
// at: every time the evidence vouches for (sigstore-go's observer
// timestamps): the integrated time of each verified SET (one per log) and
// each verified RFC 3161 timestamp (one per authority). Timestamps that do
// not verify are left out; at least one time is required. With
// WithSignedTimestamps, tsaThreshold verified timestamps are required.
// Only when the log check is waived and no timestamp verifies is the current
// time used, as cosign does.
func (v *Verifier) signingTimes(entries []loggedEntry, ts *lazyTimestamps) ([]time.Time, []string, error) {
	var (
		out     []time.Time
		sources []string
	)
	logs := map[string]bool{}
	for _, e := range entries {
		if !e.setTime.IsZero() && !logs[string(e.log.ID)] {
			logs[string(e.log.ID)] = true
			out, sources = append(out, e.setTime), append(sources, TimeFromLog)
		}
	}
	got, errs := ts.get()
	for _, t := range got {
		out, sources = append(out, t.time), append(sources, TimeFromTSA)
	}
	if v.signedTimestamps {
		if err := v.requireTimestamps(ts); err != nil {
			return nil, nil, err
		}
	}
	if len(out) > 0 {
		return out, sources, nil
	}
	if v.ignoreTlog {
		return []time.Time{v.now()}, []string{TimeNow}, nil
	}
	detail := "nothing dates the signature: no verified log entry has a signed integrated time (SET) and no RFC 3161 timestamp verified"
	if len(ts.responses) == 0 {
		detail = "nothing dates the signature: no verified log entry has a signed integrated time (SET; Rekor v2 entries have none) and the signature has no RFC 3161 timestamp"
	}
	return nil, nil, &StepError{Step: ErrTimestamp, Detail: detail, Err: joinReasons(errs)}
}

// requireTimestamps checks that as many RFC 3161 timestamps verified as
// --use-signed-timestamps asks for.
func (v *Verifier) requireTimestamps(ts *lazyTimestamps) error {
	got, errs := ts.get()
	if len(got) >= v.tsaThreshold {
		return nil
	}
	detail := fmt.Sprintf("%d RFC 3161 timestamps verified, %d needed (--use-signed-timestamps)", len(got), v.tsaThreshold)
	if len(ts.responses) == 0 {
		detail = "the signature has no RFC 3161 timestamp (--use-signed-timestamps requires one)"
	}
	return &StepError{Step: ErrTimestamp, Detail: detail, Err: joinReasons(errs)}
}

// lazyTimestamps verifies a signature's RFC 3161 timestamps once, and only
// if something asks for them.
type lazyTimestamps struct {
	v         *Verifier
	responses [][]byte
	sig       []byte
	done      bool
	got       []signedTime
	errs      []string
}

func (l *lazyTimestamps) get() ([]signedTime, []string) {
	if !l.done {
		l.done = true
		var err error
		if l.got, l.errs, err = l.v.verifyTimestamps(l.responses, l.sig); err != nil {
			l.errs = append(l.errs, err.Error())
		}
	}
	return l.got, l.errs
}

// inside reports whether a verified timestamp falls inside w.
func (l *lazyTimestamps) inside(w interface{ Contains(time.Time) bool }) bool {
	got, _ := l.get()
	for _, t := range got {
		if w.Contains(t.time) {
			return true
		}
	}
	return false
}

func joinReasons(r []string) error {
	if len(r) == 0 {
		return nil
	}
	return reasons(r)
}

type reasons []string

func (r reasons) Error() string { return strings.Join(r, "; ") }

// sameKey reports whether a PEM key or certificate holds v's key.
func (v *Verifier) sameKey(pemBytes []byte) bool {
	k, err := keys.ParsePublicKey(pemBytes)
	if err != nil {
		return false
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	return err == nil && bytes.Equal(der, v.keyDER)
}
