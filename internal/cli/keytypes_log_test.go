package cli

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"path/filepath"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/internal/server/stack"
)

// Every key type signs blobs with a transparency log, both Rekor APIs, and
// the result verifies against the trusted root: the entry records the
// digest the key signs (SHA-384 for P-384, SHA-512 for P-521 and Ed25519, as
// cosign logs them; SHA-256 was sent for all, and the log refused the entry),
// and the bundle names it; images likewise in both formats. cosign's P-384
// signature verifies with Hallmark
// (cosign v3.1.3 names SHA2_384, which Hallmark refused). Another blob is
// refused each time.
func TestKeyTypesSignBlobWithLogs(t *testing.T) {
	dir := t.TempDir()
	st := startStack(t, dir)
	tr := st.path(stack.TrustedRootFile)
	blob := writeFile(t, filepath.Join(t.TempDir(), "artifact.txt"), "release artifact\n")
	other := writeFile(t, filepath.Join(t.TempDir(), "other.txt"), "another artifact\n")
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	keys := map[string]crypto.Signer{"p384": ec384, "p521": ec521, "rsa": rsaKey, "ed25519": edKey}
	for name, k := range keys {
		t.Run(name, func(t *testing.T) {
			kd := t.TempDir()
			in := writeFile(t, filepath.Join(kd, "in.pem"), pkcs8PEM(t, k))
			prefix := filepath.Join(kd, name)
			mustHM(t, 0, pw, "import-key-pair", "--key", in, "--output-key-prefix", prefix)
			for api, sc := range map[string]string{"v1": st.path(stack.SigningConfigFile), "v2": st.path(stack.SigningConfigV2File)} {
				b := filepath.Join(kd, api+".bundle")
				mustHM(t, 0, pw, "sign-blob", "--key", prefix+".key", "--signing-config", sc, "--bundle", b, blob)
				if r := hm(t, nil, "verify-blob", "--key", prefix+".pub", "--bundle", b, "--trusted-root", tr, blob); r.code != 0 {
					t.Fatalf("%s, Rekor %s: verify-blob exit %d\n%s", name, api, r.code, r.stderr)
				}
				mustHM(t, exitNoMatchingSig, nil, "verify-blob", "--key", prefix+".pub", "--bundle", b, "--trusted-root", tr, other)
				// Images too, in both storage formats: a legacy .sig layer's entry is
				// a hashedrekord over the payload under the key's hash (a Rekor v1
				// entry: the .sig format cannot carry a v2 one).
				formats := []string{"true", "false"}
				if api == "v2" {
					formats = formats[:1]
				}
				for _, nb := range formats {
					img := st.pushImage(t, "keys/"+name+"-"+api+"-"+nb+":v1", name+api+nb)
					mustHM(t, 0, pw, "sign", "--key", prefix+".key", "--signing-config", sc, "--new-bundle-format="+nb, "-y", img)
					if r := hm(t, nil, "verify", "--key", prefix+".pub", "--trusted-root", tr, img); r.code != 0 {
						t.Fatalf("%s, Rekor %s, bundle format %s: verify exit %d\n%s", name, api, nb, r.code, r.stderr)
					}
				}
			}
		})
	}
	t.Run("cosign p384", func(t *testing.T) {
		hallmarktest.Cosign(t)
		kd := t.TempDir()
		in := writeFile(t, filepath.Join(kd, "in.pem"), pkcs8PEM(t, ec384))
		env := hallmarktest.CosignEnv(t, pw["HALLMARK_PASSWORD"])
		cosign := func(args ...string) {
			t.Helper()
			if out, err := hallmarktest.RunCosign(t, kd, env, args...); err != nil {
				t.Fatalf("cosign %v: %v\n%s", args, err, out)
			}
		}
		cosign("import-key-pair", "--key", in, "--output-key-prefix", "co")
		b := filepath.Join(kd, "co.bundle")
		cosign("sign-blob", "--key", "co.key", "--signing-config", st.path(stack.SigningConfigFile), "--trusted-root", tr, "--bundle", b, "-y", blob)
		mustHM(t, 0, nil, "verify-blob", "--key", filepath.Join(kd, "co.pub"), "--bundle", b, "--trusted-root", tr, blob)
		mustHM(t, exitNoMatchingSig, nil, "verify-blob", "--key", filepath.Join(kd, "co.pub"), "--bundle", b, "--trusted-root", tr, other)
	})
}
