package cli

import (
	"context"
	"crypto"
	"net/http"
	"os"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/oci"
)

// Each case sets up an image in some state and says how verify must fail.
func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	reg := hallmarktest.EmbeddedRegistry(t, "")
	key, pub := shared(t)
	_, otherPub := keyPair(t, t.TempDir(), "other")
	ctx := context.Background()
	client, err := oci.New()
	if err != nil {
		t.Fatal(err)
	}
	priv := privFor(t, key)

	signed := hallmarktest.PushImage(t, reg.Host, "signed:v1", "signed")
	mustHM(t, 0, pw, "sign", "--key", key, "-a", "env=prod", signed.String())
	mustHM(t, 0, pw, "sign", "--key", key, "-a", "env=prod", "--new-bundle-format=false", signed.String())

	// A valid signature of `signed`, replayed onto another image, per format.
	replayLegacy := hallmarktest.PushImage(t, reg.Host, "replay-legacy:v1", "replay-legacy")
	legacy, err := client.LegacySignatures(ctx, signed)
	if err != nil || len(legacy) != 1 {
		t.Fatalf("reading legacy signature: %v (%d)", err, len(legacy))
	}
	if err := client.AppendLegacySignature(ctx, replayLegacy, legacy[0].Payload, legacy[0].Annotations); err != nil {
		t.Fatal(err)
	}
	replayBundle := hallmarktest.PushImage(t, reg.Host, "replay-bundle:v1", "replay-bundle")
	bundles, err := client.Bundles(ctx, signed)
	if err != nil || len(bundles) != 1 {
		t.Fatalf("reading bundle: %v (%d)", err, len(bundles))
	}
	writeBundle(t, client, replayBundle, bundles[0].Bytes, cosign.SignPredicateType)

	// Payloads changed after signing, signatures kept.
	tamperedLegacy := hallmarktest.PushImage(t, reg.Host, "tampered-legacy:v1", "tampered-legacy")
	payload, _ := cosign.NewSimpleSigning(tamperedLegacy.Context().Name(), tamperedLegacy.DigestStr(), nil)
	if err := client.AppendLegacySignature(ctx, tamperedLegacy, payload, legacy[0].Annotations); err != nil {
		t.Fatal(err)
	}
	tamperedBundle := hallmarktest.PushImage(t, reg.Host, "tampered-bundle:v1", "tampered-bundle")
	b, err := cosign.ParseBundle(bundles[0].Bytes)
	if err != nil {
		t.Fatal(err)
	}
	alg, hex := splitDigest(tamperedBundle)
	b.GetDsseEnvelope().Payload, _ = cosign.NewSignStatement(alg, hex, map[string]any{"env": "prod"})
	raw, _ := cosign.MarshalBundle(b)
	writeBundle(t, client, tamperedBundle, raw, cosign.SignPredicateType)

	// A correctly signed attestation is not a signature.
	attested := hallmarktest.PushImage(t, reg.Host, "attested:v1", "attested")
	att := attestationBundle(t, priv, attested, "https://slsa.dev/provenance/v1")
	writeBundle(t, client, attested, att, "https://slsa.dev/provenance/v1")

	unsigned := hallmarktest.PushImage(t, reg.Host, "unsigned:v1", "unsigned")
	malformed := hallmarktest.PushImage(t, reg.Host, "malformed:v1", "malformed")
	writeBundle(t, client, malformed, []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{}}`), cosign.SignPredicateType)

	cases := []struct {
		name   string
		args   []string
		code   int
		reason []string
	}{
		{"wrong key", []string{"--key", otherPub, signed.String()}, exitNoMatchingSig, []string{"does not verify under the public key"}},
		{"unsigned image", []string{"--key", pub, unsigned.String()}, exitNoSignatures, []string{"no signatures found", ".sig"}},
		{"no such tag", []string{"--key", pub, reg.Host + "/signed:nope"}, exitNoSuchTag, []string{"no such image"}},
		{"no such repository", []string{"--key", pub, reg.Host + "/nothing:v1"}, exitNoSuchTag, []string{"no such image"}},
		{"annotation mismatch", []string{"--key", pub, "-a", "env=dev", signed.String()}, exitNoMatchingSig, []string{`annotation "env" differs (want dev, got prod)`}},
		{"annotation missing", []string{"--key", pub, "-a", "team=x", signed.String()}, exitNoMatchingSig, []string{`annotation "team" missing`}},
		{"legacy signature replayed onto another image", []string{"--key", pub, replayLegacy.String()}, exitNoMatchingSig, []string{"signed digest is not the image digest", signed.DigestStr()}},
		{"bundle replayed onto another image", []string{"--key", pub, replayBundle.String()}, exitNoMatchingSig, []string{"no statement subject is the image digest", signed.DigestStr()}},
		{"legacy payload tampered", []string{"--key", pub, tamperedLegacy.String()}, exitNoMatchingSig, []string{"signature: legacy signature", "does not verify"}},
		{"bundle payload tampered", []string{"--key", pub, tamperedBundle.String()}, exitNoMatchingSig, []string{"signature: DSSE envelope", "does not verify"}},
		{"attestation is not a signature", []string{"--key", pub, attested.String()}, exitNoSignatures, []string{"no signatures found"}},
		{"malformed bundle", []string{"--key", pub, malformed.String()}, exitNoMatchingSig, []string{"malformed bundle"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"verify", "--insecure-ignore-tlog"}, tc.args...)
			r := mustHM(t, tc.code, nil, args...)
			wantContains(t, r.stderr, tc.reason...)
			if r.stdout != "" {
				t.Errorf("a failed verify printed on stdout: %s", r.stdout)
			}
		})
	}
	// The positive control: the same setup does verify what is real.
	mustHM(t, 0, nil, "verify", "--insecure-ignore-tlog", "--key", pub, "-a", "env=prod", signed.String())
}

func privFor(t *testing.T, keyPath string) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := keys.DecryptPrivateKey(data, []byte(pw["HALLMARK_PASSWORD"]))
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// attestationBundle signs an in-toto statement about d with another
// predicate type: valid, but an attestation rather than a signature.
func attestationBundle(t *testing.T, priv crypto.Signer, d name.Digest, predicateType string) []byte {
	t.Helper()
	alg, hex := splitDigest(d)
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Digest: map[string]string{alg: hex}}},
		PredicateType: predicateType,
		Predicate:     &structpb.Struct{},
	}
	payload, err := protojson.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := keys.Sign(priv, cosign.PAE(cosign.InTotoPayloadType, payload))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cosign.MarshalBundle(cosign.NewDSSEBundle(cosign.InTotoPayloadType, payload, sig, ""))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func writeBundle(t *testing.T, c *oci.Client, d name.Digest, raw []byte, predicateType string) {
	t.Helper()
	_, desc, err := c.Resolve(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteBundle(context.Background(), d, desc, raw, predicateType); err != nil {
		t.Fatal(err)
	}
}

func splitDigest(d name.Digest) (string, string) {
	s := d.DigestStr()
	return s[:6], s[7:]
}

func TestRegistryFailuresAreNotMissingSignatures(t *testing.T) {
	t.Parallel()
	_, pub := shared(t)
	for _, status := range []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			host, requests := hallmarktest.StatusRegistry(t, status)
			r := mustHM(t, exitRegistryFailure, nil, "verify", "--key", pub, "--insecure-ignore-tlog", host+"/app:v1")
			wantContains(t, r.stderr, "registry "+host, http.StatusText(status))
			if requests.Load() == 0 {
				t.Error("the registry was never asked")
			}
		})
	}
	t.Run("down", func(t *testing.T) {
		t.Parallel()
		host := hallmarktest.DeadRegistry(t)
		r := mustHM(t, exitRegistryFailure, nil, "verify", "--key", pub, "--insecure-ignore-tlog", host+"/app:v1")
		wantContains(t, r.stderr, "registry "+host+" unreachable")
	})
}

// A registry that serves the image but fails on signature lookups must not
// be mistaken for "no signatures".
func TestRegistryFailingOnSignatureLookup(t *testing.T) {
	t.Parallel()
	_, pub := shared(t)
	reg := hallmarktest.EmbeddedRegistry(t, "")
	img := hallmarktest.PushImage(t, reg.Host, "app:v1", "app")
	host := hallmarktest.FailingProxy(t, reg.Host, "/referrers/", http.StatusTooManyRequests)
	ref := host + "/app@" + img.DigestStr()
	r := mustHM(t, exitRegistryFailure, nil, "verify", "--key", pub, "--insecure-ignore-tlog", ref)
	wantContains(t, r.stderr, "429", "referrers")
}
