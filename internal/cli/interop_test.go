package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
)

// cosignPeer is a cosign binary set up to run offline in a directory.
type cosignPeer struct {
	t        *testing.T
	dir      string
	env      []string
	sc, root string
}

func newCosignPeer(t *testing.T) *cosignPeer {
	hallmarktest.Cosign(t)
	dir := t.TempDir()
	sc, root := hallmarktest.CosignOffline(t, dir)
	return &cosignPeer{t: t, dir: dir, env: hallmarktest.CosignEnv(t, pw["HALLMARK_PASSWORD"]), sc: sc, root: root}
}

func (c *cosignPeer) run(args ...string) (string, error) {
	c.t.Helper()
	return hallmarktest.RunCosign(c.t, c.dir, c.env, args...)
}

func (c *cosignPeer) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cosignPeer) mustFail(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err == nil {
		c.t.Fatalf("cosign %s succeeded, want failure\n%s", strings.Join(args, " "), out)
	}
	return out
}

func (c *cosignPeer) verify(pub string, extra ...string) []string {
	return append([]string{"verify", "--key", pub, "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", c.root}, extra...)
}

// TestCosignInterop signs with each tool and verifies with the other, in both
// storage formats, on a registry with the referrers API (Hallmark's) and one
// without (distribution 2.8), with key files made by the other tool.
func TestCosignInterop(t *testing.T) {
	registries := []func(testing.TB) hallmarktest.Registry{
		func(t testing.TB) hallmarktest.Registry { return hallmarktest.EmbeddedRegistry(t, "") },
		hallmarktest.DockerRegistry,
	}
	for i, start := range registries {
		t.Run([]string{"embedded", "docker-registry"}[i], func(t *testing.T) {
			t.Parallel()
			co := newCosignPeer(t)
			reg := start(t)
			hmKey, hmPub := shared(t)
			co.must("generate-key-pair", "--output-key-prefix", "co")
			coKey, coPub := filepath.Join(co.dir, "co.key"), filepath.Join(co.dir, "co.pub")
			image := func(name string) string {
				return hallmarktest.PushImage(t, reg.Host, "interop/"+name+":v1", name+reg.Name).String()
			}

			t.Run("hallmark bundle, cosign verifies", func(t *testing.T) {
				img := image("hm-bundle")
				mustHM(t, 0, pw, "sign", "--key", coKey, "-a", "from=hallmark", img) // cosign's key file
				co.must(co.verify(coPub, "-a", "from=hallmark", img)...)
				co.mustFail(co.verify(hmPub, img)...)
				co.mustFail(co.verify(coPub, "-a", "from=elsewhere", img)...)
			})
			t.Run("hallmark legacy, cosign verifies", func(t *testing.T) {
				img := image("hm-legacy")
				mustHM(t, 0, pw, "sign", "--key", hmKey, "--new-bundle-format=false", "-a", "from=hallmark", img)
				co.must(co.verify(hmPub, "-a", "from=hallmark", img)...)
				co.mustFail(co.verify(coPub, img)...)
			})
			t.Run("cosign bundle, hallmark verifies", func(t *testing.T) {
				img := image("co-bundle")
				co.must("sign", "--key", hmKey, "--signing-config", co.sc, "--allow-insecure-registry", "-y", "-a", "from=cosign", img) // Hallmark's key file
				r := mustHM(t, 0, nil, "verify", "--key", hmPub, "--insecure-ignore-tlog", "-a", "from=cosign", img)
				wantContains(t, r.stdout, `"from":"cosign"`, "https://sigstore.dev/cosign/sign/v1")
				mustHM(t, exitNoMatchingSig, nil, "verify", "--key", coPub, "--insecure-ignore-tlog", img)
				mustHM(t, exitNoMatchingSig, nil, "verify", "--key", hmPub, "--insecure-ignore-tlog", "-a", "from=hallmark", img)
			})
			t.Run("cosign legacy, hallmark verifies", func(t *testing.T) {
				img := image("co-legacy")
				co.must("sign", "--key", coKey, "--use-signing-config=false", "--tlog-upload=false", "--new-bundle-format=false",
					"--allow-insecure-registry", "-y", "-a", "from=cosign", img)
				r := mustHM(t, 0, nil, "verify", "--key", coPub, "--insecure-ignore-tlog", "-a", "from=cosign", img)
				wantContains(t, r.stdout, "cosign container image signature")
				mustHM(t, exitNoMatchingSig, nil, "verify", "--key", hmPub, "--insecure-ignore-tlog", img)
			})
			t.Run("both tools append to one image", func(t *testing.T) {
				img := image("both")
				co.must("sign", "--key", coKey, "--signing-config", co.sc, "--allow-insecure-registry", "-y", img)
				mustHM(t, 0, pw, "sign", "--key", hmKey, img)
				co.must("sign", "--key", coKey, "--use-signing-config=false", "--tlog-upload=false", "--new-bundle-format=false", "--allow-insecure-registry", "-y", img)
				mustHM(t, 0, pw, "sign", "--key", hmKey, "--new-bundle-format=false", img)
				for _, pub := range []string{hmPub, coPub} {
					mustHM(t, 0, nil, "verify", "--key", pub, "--insecure-ignore-tlog", img)
					co.must(co.verify(pub, img)...)
					co.must(co.verify(pub, "--new-bundle-format=false", img)...)
				}
			})
		})
	}
}

func TestCosignInteropBlobsAndKeys(t *testing.T) {
	t.Parallel()
	co := newCosignPeer(t)
	hmKey, hmPub := shared(t)
	co.must("generate-key-pair", "--output-key-prefix", "co")
	coKey, coPub := filepath.Join(co.dir, "co.key"), filepath.Join(co.dir, "co.pub")
	blob := writeFile(t, filepath.Join(co.dir, "blob.txt"), "interop blob")

	hmBundle := filepath.Join(co.dir, "hm.bundle")
	mustHM(t, 0, pw, "sign-blob", "--key", coKey, "--bundle", hmBundle, blob)
	co.must("verify-blob", "--key", coPub, "--bundle", hmBundle, "--insecure-ignore-tlog", "--trusted-root", co.root, blob)
	co.mustFail("verify-blob", "--key", hmPub, "--bundle", hmBundle, "--insecure-ignore-tlog", "--trusted-root", co.root, blob)

	coBundle := filepath.Join(co.dir, "co.bundle")
	co.must("sign-blob", "--key", hmKey, "--bundle", coBundle, "--signing-config", co.sc, "-y", blob)
	mustHM(t, 0, nil, "verify-blob", "--key", hmPub, "--bundle", coBundle, "--insecure-ignore-tlog", blob)
	mustHM(t, exitNoMatchingSig, nil, "verify-blob", "--key", coPub, "--bundle", coBundle, "--insecure-ignore-tlog", blob)

	// public-key agrees across tools for each other's key files.
	for _, k := range []struct{ key, pub string }{{hmKey, hmPub}, {coKey, coPub}} {
		out := co.must("public-key", "--key", k.key)
		r := mustHM(t, 0, pw, "public-key", "--key", k.key)
		if !strings.Contains(out, strings.TrimSpace(r.stdout)) {
			t.Errorf("public keys differ for %s:\ncosign: %s\nhallmark: %s", k.key, out, r.stdout)
		}
	}

	// Keys imported by either tool work in the other.
	pemKey := writeFile(t, filepath.Join(co.dir, "plain.pem"), plainECKeyPEM(t))
	co.must("import-key-pair", "--key", pemKey, "--output-key-prefix", "co-imported")
	mustHM(t, 0, pw, "import-key-pair", "--key", pemKey, "--output-key-prefix", filepath.Join(co.dir, "hm-imported"))
	for i, pair := range [][2]string{{"co-imported.key", "hm-imported.pub"}, {"hm-imported.key", "co-imported.pub"}} {
		b := filepath.Join(co.dir, fmt.Sprintf("imp%d.bundle", i))
		mustHM(t, 0, pw, "sign-blob", "--key", filepath.Join(co.dir, pair[0]), "--bundle", b, blob)
		co.must("verify-blob", "--key", filepath.Join(co.dir, pair[1]), "--bundle", b, "--insecure-ignore-tlog", "--trusted-root", co.root, blob)
	}
}
