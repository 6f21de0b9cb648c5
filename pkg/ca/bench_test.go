package ca

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-jose/go-jose/v4"

	ctserver "hallmark.dev/hallmark/internal/server/ct"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/pki"
)

// testIssuer serves an OIDC discovery document and keys, and returns a
// token it signed for a@example.com with audience sigstore.
func testIssuer(tb testing.TB) (token, issuer string) {
	tb.Helper()
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv := httptest.NewServer(nil)
	jwk := jose.JSONWebKey{Key: rk.Public(), KeyID: "k", Algorithm: "RS256", Use: "sig"}
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "jwks_uri": srv.URL + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
		case "/keys":
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
		}
	})
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: rk, KeyID: "k"}}, nil)
	claims, _ := json.Marshal(map[string]any{"iss": srv.URL, "sub": "a@example.com", "aud": "sigstore", "email": "a@example.com", "email_verified": true, "exp": 4102444800})
	jws, _ := signer.Sign(claims)
	tok, _ := jws.CompactSerialize()
	tb.Cleanup(srv.Close)
	return tok, srv.URL
}

func testToken(t *testing.T) (string, string) { return testIssuer(t) }

// benchCA is a CA trusting a test issuer, with its in-process CT log when
// withCT, and a request it has already answered once.
func benchCA(b *testing.B, withCT bool) (*CA, Request) {
	tok, issuer := testIssuer(b)
	cfg, err := ParseConfig([]byte(`{"OIDCIssuers":{"` + issuer + `":{"ClientID":"sigstore","Type":"email"}}}`))
	if err != nil {
		b.Fatal(err)
	}
	chain, key, _, err := pki.LoadOrCreateCA(b.TempDir(), pki.CASpec{Organization: "B", CommonName: "B", Intermediate: true, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{Signer: key, Chain: chain, Issuers: cfg}
	if withCT {
		logKey, _ := keys.Generate()
		l, err := ctserver.Open(context.Background(), ctserver.Config{Dir: b.TempDir(), Signer: logKey, Origin: "b.example/ct", Roots: chain[:1]})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = l.Close(context.Background()) })
		zero := 0
		opts.CT, opts.CTIssuers = l, &zero
	}
	c, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	k, _ := keys.Generate()
	proof, _ := keys.Sign(k, []byte("a@example.com"))
	req := Request{Token: tok, PublicKey: k.Public(), Proof: proof}
	if _, err := c.Issue(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	return c, req
}

// BenchmarkIssue is one certificate issuance without CT: token verified
// (RS256), proof of possession checked (ECDSA P-256), certificate signed.
func BenchmarkIssue(b *testing.B) {
	c, req := benchCA(b, false)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Issue(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueWithSCT is issuance as hallmark serve does it: the
// precertificate logged in an in-process TesseraCT log (journal synced
// before the SCT), the SCT embedded in the final certificate. Many
// requests at once, as a loaded CA sees them, so the journal's syncs are
// shared. The log is closed (waiting for Tessera's batch) after the clock
// stops.
func BenchmarkIssueWithSCT(b *testing.B) {
	c, req := benchCA(b, true)
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Issue(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
