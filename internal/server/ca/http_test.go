package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"hallmark.dev/hallmark/internal/server/oidc"
	"hallmark.dev/hallmark/pkg/ca"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/idp"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/pki"
)

type fixture struct {
	idp   *idp.Provider
	other *idp.Provider // a provider the CA does not trust
	ca    *ca.CA
	srv   *httptest.Server
	chain []*x509.Certificate
	clock *time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{}
	now := time.Now()
	f.clock = &now
	clock := func() time.Time { return *f.clock }
	issuerSrv := httptest.NewUnstartedServer(nil)
	issuerSrv.Start()
	t.Cleanup(issuerSrv.Close)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	var err error
	f.idp, err = idp.New(idp.Config{Issuer: issuerSrv.URL, Key: rk,
		Clients:    []idp.Client{{ID: "sigstore"}, {ID: "ci", Secret: "s3cret"}},
		Identities: []idp.Identity{{Email: "alice@example.com"}}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	issuerSrv.Config.Handler = oidc.NewHandler(f.idp, nil)
	otherSrv := httptest.NewServer(nil)
	t.Cleanup(otherSrv.Close)
	ok, _ := keys.Generate()
	f.other, _ = idp.New(idp.Config{Issuer: otherSrv.URL, Key: ok, Clients: []idp.Client{{ID: "ci", Secret: "x"}},
		Identities: []idp.Identity{{Email: "alice@example.com"}}})
	otherSrv.Config.Handler = oidc.NewHandler(f.other, nil)

	cfg, err := ca.ParseConfig([]byte(`{"OIDCIssuers":{
		"` + f.idp.Issuer() + `":{"ClientID":"sigstore","Type":"email"},
		"` + f.idp.GitHubIssuer() + `":{"ClientID":"sigstore","Type":"ci-provider","CIProvider":"github-workflow"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var key crypto.Signer
	f.chain, key, _, err = pki.LoadOrCreateCA(t.TempDir(), pki.CASpec{Organization: "Test", CommonName: "Test CA", Intermediate: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
	if err != nil {
		t.Fatal(err)
	}
	f.ca, err = ca.New(ca.Options{Signer: key, Chain: f.chain, Issuers: cfg, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(NewHandler(f.ca, nil))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) emailToken(t *testing.T, aud string) string {
	t.Helper()
	id, _ := f.idp.Identity("alice@example.com")
	tok, err := f.idp.EmailToken(id, aud, "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type answer struct {
	status int
	body   []byte
}

func (f *fixture) post(t *testing.T, path, token string, body any) answer {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, rb}
}

func keyRequest(t *testing.T, k crypto.Signer, challenge string) map[string]any {
	t.Helper()
	proof, err := keys.Sign(k, []byte(challenge))
	if err != nil {
		t.Fatal(err)
	}
	pemKey, _ := keys.MarshalPublicKey(k.Public())
	return map[string]any{"publicKeyRequest": map[string]any{
		"publicKey": map[string]string{"algorithm": "ECDSA", "content": string(pemKey)}, "proofOfPossession": base64.StdEncoding.EncodeToString(proof)}}
}

func leafOf(t *testing.T, a answer) *x509.Certificate {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var out struct {
		Detached struct {
			Chain struct{ Certificates []string }
			SCT   *string `json:"signedCertificateTimestamp"`
		} `json:"signedCertificateDetachedSct"`
	}
	if err := json.Unmarshal(a.body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Detached.SCT == nil || *out.Detached.SCT != "" {
		t.Errorf("detached answer without CT: signedCertificateTimestamp should be present and empty: %s", a.body)
	}
	certs := out.Detached.Chain.Certificates
	if len(certs) != 3 || strings.HasSuffix(certs[0], "\n") {
		t.Fatalf("chain of %d (want leaf, intermediate, root; trimmed PEM): %q", len(certs), certs)
	}
	block, _ := pem.Decode([]byte(certs[0]))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func TestEmailCertificate(t *testing.T) {
	f := newFixture(t)
	k, _ := keys.Generate()
	leaf := leafOf(t, f.post(t, "/api/v2/signingCert", f.emailToken(t, "sigstore"), keyRequest(t, k, "alice@example.com")))
	if len(leaf.EmailAddresses) != 1 || leaf.EmailAddresses[0] != "alice@example.com" || len(leaf.URIs) != 0 {
		t.Errorf("SAN: %v %v", leaf.EmailAddresses, leaf.URIs)
	}
	if leaf.Subject.String() != "" {
		t.Errorf("subject %q, want empty", leaf.Subject)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d != 10*time.Minute {
		t.Errorf("validity %v, want 10m", d)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning || leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("usage %v %v", leaf.ExtKeyUsage, leaf.KeyUsage)
	}
	critical := false
	for _, e := range leaf.Extensions {
		if e.Id.Equal([]int{2, 5, 29, 17}) {
			critical = e.Critical
		}
	}
	if !critical {
		t.Error("SAN is not critical")
	}
	ext, err := cosign.ParseCertExtensions(leaf)
	if err != nil || ext.Issuer != f.idp.Issuer() || ext.TokenSubject != "alice@example.com" {
		t.Errorf("extensions %+v, %v", ext, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(f.chain[1])
	inter := x509.NewCertPool()
	inter.AddCert(f.chain[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		t.Errorf("leaf does not chain: %v", err)
	}
	// The token in the body (credentials) is read as in Fulcio; snake_case too.
	body := keyRequest(t, k, "alice@example.com")
	body["credentials"] = map[string]string{"oidc_identity_token": f.emailToken(t, "sigstore")}
	leafOf(t, f.post(t, "/api/v2/signingCert", "", body))
}

func TestWorkflowCertificate(t *testing.T) {
	f := newFixture(t)
	tok, err := f.idp.WorkflowToken(idp.Workflow{Repository: "octo/demo", Environment: "prod"}, "sigstore")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keys.Generate()
	leaf := leafOf(t, f.post(t, "/api/v2/signingCert", tok, keyRequest(t, k, "repo:octo/demo:environment:prod")))
	want := "https://github.com/octo/demo/.github/workflows/release.yml@refs/heads/main"
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != want {
		t.Errorf("SAN %v, want %s", leaf.URIs, want)
	}
	ext, _ := cosign.ParseCertExtensions(leaf)
	for name, got := range map[string][2]string{
		"issuer":     {ext.Issuer, f.idp.GitHubIssuer()},
		"repository": {ext.SourceRepositoryURI, "https://github.com/octo/demo"},
		"trigger":    {ext.GithubWorkflowTrigger, "push"},
		"ref":        {ext.SourceRepositoryRef, "refs/heads/main"},
		"env":        {ext.DeploymentEnvironment, "prod"},
		"runner":     {ext.RunnerEnvironment, "github-hosted"},
		"subject":    {ext.TokenSubject, "repo:octo/demo:environment:prod"},
		"signer":     {ext.BuildSignerURI, want},
	} {
		if got[0] != got[1] {
			t.Errorf("%s extension %q, want %q", name, got[0], got[1])
		}
	}
	if !strings.HasPrefix(ext.RunInvocationURI, "https://github.com/octo/demo/actions/runs/") {
		t.Errorf("run invocation %q", ext.RunInvocationURI)
	}
}

func TestCSR(t *testing.T) {
	f := newFixture(t)
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, k)
	csr := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	leaf := leafOf(t, f.post(t, "/api/v2/signingCert", f.emailToken(t, "sigstore"), map[string]any{"certificateSigningRequest": csr}))
	if leaf.Subject.CommonName != "" || !leaf.PublicKey.(*ecdsa.PublicKey).Equal(&k.PublicKey) {
		t.Error("CSR: subject copied or key differs")
	}
}

// TestRefusals sweeps what the CA must refuse: each a 4xx naming the
// reason, nothing issued.
func TestRefusals(t *testing.T) {
	f := newFixture(t)
	k, _ := keys.Generate()
	other, _ := keys.Generate()
	good := f.emailToken(t, "sigstore")
	wrongAud := f.emailToken(t, "other")
	*f.clock = time.Now().Add(-time.Hour)
	expired := f.emailToken(t, "sigstore")
	*f.clock = time.Now()
	untrusted, _ := f.other.ClientCredentials("ci", "x", "sigstore", "")
	parts := strings.Split(good, ".")
	sigBytes, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sigBytes[10] ^= 1
	badSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sigBytes)
	// A token whose payload is swapped keeps its signature: it must fail too.
	forgedPayload, _ := json.Marshal(map[string]any{"iss": f.idp.Issuer(), "sub": "mallory@example.com", "email": "mallory@example.com",
		"email_verified": true, "aud": "sigstore", "exp": time.Now().Add(time.Hour).Unix()})
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forgedPayload) + "." + parts[2]
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	der[len(der)-3] ^= 1 // break the CSR's self-signature
	badCSR := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakPEM, _ := x509.MarshalPKIXPublicKey(&weak.PublicKey)
	proofByOther := keyRequest(t, other, "alice@example.com")
	proofByOther["publicKeyRequest"].(map[string]any)["publicKey"] = keyRequest(t, k, "x")["publicKeyRequest"].(map[string]any)["publicKey"]
	sum := sha256.Sum256([]byte("x"))
	_ = sum

	for _, c := range []struct {
		name   string
		token  string
		body   any
		status int
		reason string
	}{
		{"no token", "", keyRequest(t, k, "alice@example.com"), 401, "no identity token"},
		{"not a JWT", "abc", keyRequest(t, k, "alice@example.com"), 401, "not a JWT"},
		{"wrong audience", wrongAud, keyRequest(t, k, "alice@example.com"), 401, "audience"},
		{"expired", expired, keyRequest(t, k, "alice@example.com"), 401, "expired"},
		{"bad signature", badSig, keyRequest(t, k, "alice@example.com"), 401, "signature"},
		{"forged payload", forged, keyRequest(t, k, "mallory@example.com"), 401, "signature"},
		{"unconfigured issuer", untrusted, keyRequest(t, k, "alice@example.com"), 401, "not one this CA trusts"},
		{"proof by another key", good, proofByOther, 400, "proof of possession"},
		{"proof over another name", good, keyRequest(t, k, "bob@example.com"), 400, "proof of possession"},
		{"no proof", good, map[string]any{"publicKeyRequest": map[string]any{"publicKey": keyRequest(t, k, "x")["publicKeyRequest"].(map[string]any)["publicKey"]}}, 400, "no proof"},
		{"malformed CSR", good, map[string]any{"certificateSigningRequest": base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"))}, 400, "could not be parsed"},
		{"CSR not PEM", good, map[string]any{"certificateSigningRequest": base64.StdEncoding.EncodeToString([]byte("hello"))}, 400, "not a PEM"},
		{"CSR bad self-signature", good, map[string]any{"certificateSigningRequest": badCSR}, 400, "CSR"},
		{"weak RSA key", good, map[string]any{"publicKeyRequest": map[string]any{"publicKey": map[string]string{"content": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: weakPEM}))}, "proofOfPossession": "AAAA"}}, 400, "1024 bits"},
		{"garbage key", good, map[string]any{"publicKeyRequest": map[string]any{"publicKey": map[string]string{"content": "garbage"}, "proofOfPossession": "AAAA"}}, 400, "could not be parsed"},
		{"both key and CSR", good, map[string]any{"publicKeyRequest": keyRequest(t, k, "alice@example.com")["publicKeyRequest"], "certificateSigningRequest": badCSR}, 400, "not both"},
		{"neither", good, map[string]any{}, 400, "needs publicKeyRequest"},
		{"not JSON", good, "{", 400, "not a CreateSigningCertificateRequest"},
		{"oversized", good, strings.Repeat("A", 5<<20), 413, "limit"},
	} {
		a := f.post(t, "/api/v2/signingCert", c.token, c.body)
		var e struct {
			Code    int
			Message string
		}
		_ = json.Unmarshal(a.body, &e)
		if a.status != c.status || !strings.Contains(e.Message, c.reason) || e.Code == 0 {
			t.Errorf("%s: %d %s, want %d naming %q", c.name, a.status, a.body, c.status, c.reason)
		}
	}
}

func TestTrustBundleAndConfiguration(t *testing.T) {
	f := newFixture(t)
	for path, want := range map[string]string{
		"/api/v2/trustBundle":   `"chains"`,
		"/api/v2/configuration": `"challengeClaim":"email"`,
		"/api/v1/rootCert":      "BEGIN CERTIFICATE",
	} {
		resp, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
}

func TestClient(t *testing.T) {
	f := newFixture(t)
	k, _ := keys.Generate()
	chain, err := (&ca.Client{URL: f.srv.URL}).SigningCertificate(context.Background(), f.emailToken(t, "sigstore"), k)
	if err != nil || len(chain) != 3 || chain[0].EmailAddresses[0] != "alice@example.com" {
		t.Fatalf("client: %v", err)
	}
	_, err = (&ca.Client{URL: f.srv.URL}).SigningCertificate(context.Background(), f.emailToken(t, "other"), k)
	if err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("client with a refused token: %v", err)
	}
}

// TestCertPEMMatchesEncodingPEM: the answer's leaf is encoding/pem's block,
// for every length that ends a line differently.
func TestCertPEMMatchesEncodingPEM(t *testing.T) {
	for _, n := range []int{1, 2, 3, 47, 48, 49, 95, 96, 97, 700, 1234} {
		der := make([]byte, n)
		for i := range der {
			der[i] = byte(i*7 + n)
		}
		want := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
		if got := certPEM(der); got != want {
			t.Errorf("%d bytes:\n%s\nwant\n%s", n, got, want)
		}
	}
}
