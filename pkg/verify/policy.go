package verify

import (
	"fmt"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
)

// Policy is what a signature must say about the artifact, besides being
// trusted: the artifact's digest and the annotations it must carry.
type Policy struct {
	// Digest is the artifact the caller asked about, as "sha256:<hex>". It
	// comes from the registry or the file, never from the signed payload.
	Digest string
	// Annotations must each be present in the signed payload with this value.
	Annotations map[string]string
	// IgnoreClaimsUnsafe checks the signature alone, not that it signs
	// Digest nor the annotations (cosign's --check-claims=false): a
	// signature of any image is then accepted.
	IgnoreClaimsUnsafe bool
}

// Format names the storage format a verified signature came in.
type Format string

const (
	FormatBundle Format = "bundle"
	FormatLegacy Format = "legacy"
)

// Result is a signature that passed every check.
type Result struct {
	Format      Format
	Digest      string         // the verified artifact digest
	Identity    string         // docker-reference of a legacy payload, if any
	Type        string         // simple-signing type or predicate type
	Annotations map[string]any // the signed annotations
	// TlogVerified is false when the log check was waived.
	TlogVerified bool
	// Certificate is the signing certificate and the identity it proved;
	// nil for key-signed signatures.
	Certificate *CertificateInfo
	// LogEntries are the verified transparency-log entries.
	LogEntries []*protorekor.TransparencyLogEntry
	// Times are the times the signing certificate was checked at, and
	// TimeSources what gave each: TimeFromLog, TimeFromTSA or TimeNow.
	Times       []time.Time
	TimeSources []string
	// RFC3161Timestamps are the signature's timestamp responses, as stored.
	RFC3161Timestamps [][]byte
}

// What a signing time came from (Result.TimeSources).
const (
	TimeFromLog = "transparency log"       // a log entry's signed integrated time
	TimeFromTSA = "timestamp authority"    // an RFC 3161 timestamp
	TimeNow     = "clock (no log checked)" // the time of verification
)

func (p *proof) fill(r *Result) *Result {
	r.Certificate = p.cert
	r.Times, r.TimeSources = p.times, p.timeSources
	r.RFC3161Timestamps = p.timestamps
	r.TlogVerified = len(p.entries) > 0
	for _, e := range p.entries {
		r.LogEntries = append(r.LogEntries, e.tle)
	}
	return r
}

func checkAnnotations(want map[string]string, got map[string]any) error {
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			return mismatch(ErrAnnotations, fmt.Sprintf("annotation %q missing", k), v, "nothing")
		}
		if s, isString := g.(string); !isString || s != v {
			return mismatch(ErrAnnotations, fmt.Sprintf("annotation %q differs", k), v, fmt.Sprint(g))
		}
	}
	return nil
}
