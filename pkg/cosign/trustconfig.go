package cosign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// SigningConfig is a Sigstore signing config: which CA, log and TSA URLs a
// signer uses.
type SigningConfig = prototrustroot.SigningConfig

// SigningConfigMediaType is the v0.2 signing config media type.
const SigningConfigMediaType = "application/vnd.dev.sigstore.signingconfig.v0.2+json"

// ParseSigningConfig decodes a signing config JSON file.
func ParseSigningConfig(data []byte) (*SigningConfig, error) {
	if len(data) > MaxPayloadSize {
		return nil, fmt.Errorf("signing config of %d bytes exceeds the %d byte limit", len(data), MaxPayloadSize)
	}
	sc := &SigningConfig{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, sc); err != nil {
		return nil, fmt.Errorf("decoding signing config: %w", err)
	}
	if !strings.HasPrefix(sc.GetMediaType(), "application/vnd.dev.sigstore.signingconfig") {
		return nil, fmt.Errorf("signing config mediaType is %q, want %s", sc.GetMediaType(), SigningConfigMediaType)
	}
	return sc, nil
}

// RekorV1URL returns the first Rekor v1 log URL of a signing config valid at
// now, or "" when it lists none.
func RekorV1URL(sc *SigningConfig, now time.Time) string {
	for _, s := range sc.GetRekorTlogUrls() {
		if s.GetMajorApiVersion() != 1 {
			continue
		}
		vf := s.GetValidFor()
		if vf.GetStart() != nil && now.Before(vf.GetStart().AsTime()) {
			continue
		}
		if vf.GetEnd() != nil && now.After(vf.GetEnd().AsTime()) {
			continue
		}
		return s.GetUrl()
	}
	return ""
}

// RekorService is a transparency log a signing config names.
type RekorService struct {
	URL        string
	APIVersion uint32
}

// SelectRekor returns the signing config's first Rekor log valid at now
// whose API version Hallmark speaks (1 or 2). When the config names logs but
// none can be used, the error says why for each; when it names none, it
// returns nil, nil (a config for signing without a log).
func SelectRekor(sc *SigningConfig, now time.Time) (*RekorService, error) {
	var why []string
	for _, s := range sc.GetRekorTlogUrls() {
		vf := s.GetValidFor()
		switch {
		case s.GetMajorApiVersion() != 1 && s.GetMajorApiVersion() != 2:
			why = append(why, fmt.Sprintf("%s speaks Rekor API v%d (Hallmark speaks v1 and v2)", s.GetUrl(), s.GetMajorApiVersion()))
		case vf.GetStart() != nil && now.Before(vf.GetStart().AsTime()):
			why = append(why, fmt.Sprintf("%s is valid only from %s", s.GetUrl(), vf.GetStart().AsTime().Format(time.RFC3339)))
		case vf.GetEnd() != nil && now.After(vf.GetEnd().AsTime()):
			why = append(why, fmt.Sprintf("%s was valid until %s", s.GetUrl(), vf.GetEnd().AsTime().Format(time.RFC3339)))
		default:
			return &RekorService{URL: s.GetUrl(), APIVersion: s.GetMajorApiVersion()}, nil
		}
	}
	if len(why) == 0 {
		return nil, nil
	}
	return nil, fmt.Errorf("none of its transparency logs can be used: %s", strings.Join(why, "; "))
}

// NewLogSigningConfig returns a signing config naming one Rekor v1 log.
func NewLogSigningConfig(url, operator string, start time.Time) *SigningConfig {
	return &SigningConfig{
		MediaType: SigningConfigMediaType,
		RekorTlogUrls: []*prototrustroot.Service{{
			Url: url, MajorApiVersion: 1, Operator: operator,
			ValidFor: &protocommon.TimeRange{Start: timestamppb.New(start)},
		}},
		RekorTlogConfig: &prototrustroot.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY},
	}
}

// NewLogTrustedRoot returns a trusted root trusting one log key.
func NewLogTrustedRoot(url string, pub crypto.PublicKey, logID []byte, start time.Time) (*TrustedRoot, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	details, err := keyDetails(pub)
	if err != nil {
		return nil, err
	}
	return &TrustedRoot{
		MediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
		Tlogs: []*prototrustroot.TransparencyLogInstance{{
			BaseUrl:       url,
			HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
			PublicKey: &protocommon.PublicKey{
				RawBytes: der, KeyDetails: details,
				ValidFor: &protocommon.TimeRange{Start: timestamppb.New(start)},
			},
			LogId: &protocommon.LogId{KeyId: logID},
		}},
	}, nil
}

func keyDetails(pub crypto.PublicKey) (protocommon.PublicKeyDetails, error) {
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		switch k.Curve {
		case elliptic.P256():
			return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256, nil
		case elliptic.P384():
			return protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384, nil
		case elliptic.P521():
			return protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512, nil
		}
	}
	return 0, fmt.Errorf("unsupported log key type %T", pub)
}

// MarshalTrust encodes a trusted root or signing config as protobuf JSON,
// indented by two spaces and byte-stable: protojson varies its whitespace
// from build to build on purpose, and these files are diffed and committed.
func MarshalTrust(m proto.Message) ([]byte, error) {
	raw, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// validAt reports whether a service's window holds now.
func validAt(s *prototrustroot.Service, now time.Time) bool {
	vf := s.GetValidFor()
	if vf.GetStart() != nil && now.Before(vf.GetStart().AsTime()) {
		return false
	}
	return vf.GetEnd() == nil || !now.After(vf.GetEnd().AsTime())
}

// candidates are the services valid at now with the highest API version
// among versions that any of them has, newest start first (sigstore-go's
// selection).
func candidates(svcs []*prototrustroot.Service, versions []uint32, now time.Time) []*prototrustroot.Service {
	best := uint32(0)
	for _, s := range svcs {
		for _, v := range versions {
			if s.GetMajorApiVersion() == v && v > best && validAt(s, now) {
				best = v
			}
		}
	}
	var out []*prototrustroot.Service
	for _, s := range svcs {
		if best != 0 && s.GetMajorApiVersion() == best && validAt(s, now) {
			out = append(out, s)
		}
	}
	for i := 1; i < len(out); i++ { // stable insertion sort, newest start first
		for j := i; j > 0 && out[j].GetValidFor().GetStart().AsTime().After(out[j-1].GetValidFor().GetStart().AsTime()); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// SelectService picks one service of a signing config (a CA, an OIDC
// issuer): valid at now, of the highest API version among versions, the one
// that started last. what names the list in errors ("caUrls").
func SelectService(svcs []*prototrustroot.Service, versions []uint32, now time.Time, what string) (*prototrustroot.Service, error) {
	c := candidates(svcs, versions, now)
	if len(c) == 0 {
		return nil, fmt.Errorf("the signing config's %s names no service valid now with API version %v", what, versions)
	}
	return c[0], nil
}

// SelectServices picks services as the config's selector says: ALL, ANY
// (one) or EXACT count, at most one per operator.
func SelectServices(svcs []*prototrustroot.Service, cfg *prototrustroot.ServiceConfiguration, versions []uint32, now time.Time, what string) ([]*prototrustroot.Service, error) {
	if len(svcs) == 0 {
		return nil, nil
	}
	var c []*prototrustroot.Service
	seen := map[string]bool{}
	for _, s := range candidates(svcs, versions, now) {
		if s.GetOperator() != "" && seen[s.GetOperator()] {
			continue
		}
		seen[s.GetOperator()] = true
		c = append(c, s)
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("the signing config's %s names no service valid now with API version %v", what, versions)
	}
	switch cfg.GetSelector() {
	case prototrustroot.ServiceSelector_ALL:
		return c, nil
	case prototrustroot.ServiceSelector_ANY:
		return c[:1], nil
	case prototrustroot.ServiceSelector_EXACT:
		n := int(cfg.GetCount())
		if n < 1 || n > len(c) {
			return nil, fmt.Errorf("the signing config asks for exactly %d of %s, but %d can be used", n, what, len(c))
		}
		return c[:n], nil
	}
	return nil, fmt.Errorf("the signing config's selector for %s is %v: want ALL, ANY or EXACT", what, cfg.GetSelector())
}
