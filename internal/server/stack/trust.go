package stack

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"google.golang.org/protobuf/proto"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/pki"
	"hallmark.dev/hallmark/pkg/tlog"
)

// Files `hallmark serve` writes in its data directory.
const (
	TrustedRootFile     = "trusted-root.json"
	SigningConfigFile   = "signing-config.json"          // Rekor v1 API, CA, OIDC, TSA
	SigningConfigV2File = "signing-config-rekor-v2.json" // the same with the Rekor v2 API
	ServicesFile        = "services.json"
)

// Services are the URLs of a running stack, as DIR/services.json lists them.
type Services struct {
	Registry   string `json:"registry,omitempty"`
	CA         string `json:"ca,omitempty"`
	OIDC       string `json:"oidc,omitempty"`
	OIDCGitHub string `json:"oidc_github,omitempty"`
	Rekor      string `json:"rekor,omitempty"`
	CT         string `json:"ct,omitempty"`
	TSA        string `json:"tsa,omitempty"` // the time-stamp endpoint (…/api/v1/timestamp)
}

// ReadServices reads DIR/services.json.
func ReadServices(dir string) (*Services, error) {
	b, err := os.ReadFile(filepath.Join(dir, ServicesFile))
	if err != nil {
		return nil, err
	}
	var s Services
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ServicesFile), err)
	}
	return &s, nil
}

// Trust is what the trust files name: each service's URL and key or chain,
// and since when it is trusted.
type Trust struct {
	Services Services
	LogKey   crypto.PublicKey
	LogStart time.Time
	CTKey    crypto.PublicKey
	CTStart  time.Time
	CAChain  []*x509.Certificate // issuing certificate first, root last
	TSAChain []*x509.Certificate // signing certificate first, root last
}

// WriteTrust writes DIR/trusted-root.json, the two signing configs and
// DIR/services.json for t.
func WriteTrust(dir string, t Trust) error {
	tr := cosign.NewTrustedRoot()
	if t.LogKey != nil {
		id, err := tlog.LogID(t.LogKey)
		if err != nil {
			return err
		}
		if err := cosign.AddTlog(tr, t.Services.Rekor, t.LogKey, id, cosign.Window{Start: t.LogStart}); err != nil {
			return err
		}
	}
	if t.CTKey != nil {
		id, err := tlog.LogID(t.CTKey)
		if err != nil {
			return err
		}
		if err := cosign.AddCTLog(tr, t.Services.CT, t.CTKey, id, cosign.Window{Start: t.CTStart}); err != nil {
			return err
		}
	}
	if len(t.CAChain) > 0 {
		if err := cosign.AddCA(tr, t.Services.CA, t.CAChain, cosign.Window{Start: t.CAChain[len(t.CAChain)-1].NotBefore}); err != nil {
			return err
		}
	}
	if len(t.TSAChain) > 0 {
		tsaURL := strings.TrimSuffix(t.Services.TSA, "/api/v1/timestamp")
		if err := cosign.AddTSA(tr, tsaURL, t.TSAChain, cosign.Window{Start: t.TSAChain[0].NotBefore}); err != nil {
			return err
		}
	}
	if err := writeJSON(filepath.Join(dir, TrustedRootFile), tr); err != nil {
		return err
	}
	for file, version := range map[string]uint32{SigningConfigFile: 1, SigningConfigV2File: 2} {
		if err := writeJSON(filepath.Join(dir, file), signingConfig(t, version)); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(t.Services, "", "  ")
	if err != nil {
		return err
	}
	return pki.WriteFileAtomic(filepath.Join(dir, ServicesFile), append(b, '\n'), 0o644)
}

func signingConfig(t Trust, rekorAPI uint32) *cosign.SigningConfig {
	var s cosign.SigningServices
	svc := func(url string, api uint32, start time.Time) []cosign.Service {
		if url == "" {
			return nil
		}
		return []cosign.Service{{URL: url, APIVersion: api, Operator: "hallmark", Window: cosign.Window{Start: start}}}
	}
	if len(t.CAChain) > 0 {
		s.CAs = svc(t.Services.CA, 1, t.CAChain[len(t.CAChain)-1].NotBefore)
	}
	s.OIDC = svc(t.Services.OIDC, 1, t.LogStart)
	if t.LogKey != nil {
		s.Rekor = svc(t.Services.Rekor, rekorAPI, t.LogStart)
		s.RekorSelector = cosign.Selector{Kind: prototrustroot.ServiceSelector_ANY}
	}
	if len(t.TSAChain) > 0 {
		s.TSA = svc(t.Services.TSA, 1, t.TSAChain[0].NotBefore)
		s.TSASelector = cosign.Selector{Kind: prototrustroot.ServiceSelector_ANY}
	}
	return cosign.NewSigningConfig(s)
}

func writeJSON(path string, m proto.Message) error {
	b, err := cosign.MarshalTrust(m)
	if err != nil {
		return err
	}
	return pki.WriteFileAtomic(path, append(b, '\n'), 0o644)
}

// ValidFrom returns when the key kept in dir began to be trusted: fixed
// at first use (an hour back, for clock skew) and read back after, so trust
// files written at any later start cover everything the service signed.
func ValidFrom(dir string) (time.Time, error) {
	path := filepath.Join(dir, "valid-from")
	if b, err := os.ReadFile(path); err == nil {
		return time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, err
	}
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	return start, pki.WriteFileAtomic(path, []byte(start.Format(time.RFC3339)+"\n"), 0o644)
}

// Remembered returns the value kept in dir/name, storing def there first
// if there is none: a service's name (a CT log's origin) stays what it was
// at first start even when its address changes.
func Remembered(dir, name, def string) (string, error) {
	path := filepath.Join(dir, name)
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return def, pki.WriteFileAtomic(path, []byte(def+"\n"), 0o644)
}
