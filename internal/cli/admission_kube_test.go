package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/internal/server/stack"
)

// admissionRun is `hallmark admission serve` running in-process.
type admissionRun struct {
	url    string
	stderr *lockedBuffer
}

func startAdmission(t *testing.T, args ...string) *admissionRun {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return startAdmissionWith(t, addr, args)
}

func startAdmissionWith(t *testing.T, addr string, args []string) *admissionRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &lockedBuffer{}
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr, getenv: func(string) string { return "" },
		lookupEnv: func(string) (string, bool) { return "", false }, isTTY: func() bool { return false }}
	done := make(chan int, 1)
	go func() { done <- a.run(ctx, append([]string{"admission", "serve", "--addr", addr}, args...)) }()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case code := <-done:
			cancel()
			t.Fatalf("admission serve exited %d:\n%s", code, stderr)
		default:
		}
		if resp, err := client.Get("https://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("admission serve not ready:\n%s", stderr)
		}
	}
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("admission serve exited %d on stop:\n%s", code, stderr)
		}
	})
	return &admissionRun{url: "https://" + addr, stderr: stderr}
}

const webhookConfigs = `apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: hallmark-admission}
webhooks:
- name: mutate.hallmark.dev
  clientConfig: {url: "URL/mutate"}
  admissionReviewVersions: [v1]
  sideEffects: None
  timeoutSeconds: 10
  failurePolicy: Fail
  reinvocationPolicy: IfNeeded
  namespaceSelector: {matchExpressions: [{key: policy.sigstore.dev/include, operator: In, values: ["true"]}]}
  rules: &rules
  - {operations: [CREATE, UPDATE], apiGroups: [""], apiVersions: [v1], resources: [pods, pods/ephemeralcontainers, replicationcontrollers]}
  - {operations: [CREATE, UPDATE], apiGroups: [apps], apiVersions: [v1], resources: [deployments, replicasets, statefulsets, daemonsets]}
  - {operations: [CREATE, UPDATE], apiGroups: [batch], apiVersions: [v1], resources: [jobs, cronjobs]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: hallmark-admission}
webhooks:
- name: validate.hallmark.dev
  clientConfig: {url: "URL/validate"}
  admissionReviewVersions: [v1]
  sideEffects: None
  timeoutSeconds: 10
  failurePolicy: Fail
  namespaceSelector: {matchExpressions: [{key: policy.sigstore.dev/include, operator: In, values: ["true"]}]}
  rules:
  - {operations: [CREATE, UPDATE], apiGroups: [""], apiVersions: [v1], resources: [pods, pods/ephemeralcontainers, replicationcontrollers]}
  - {operations: [CREATE, UPDATE], apiGroups: [apps], apiVersions: [v1], resources: [deployments, replicasets, statefulsets, daemonsets]}
  - {operations: [CREATE, UPDATE], apiGroups: [batch], apiVersions: [v1], resources: [jobs, cronjobs]}
`

func pod(name, ns string, images ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: %s}\nspec:\n  containers:\n", name, ns)
	for i, im := range images {
		fmt.Fprintf(&b, "  - {name: c%d, image: %q}\n", i, im)
	}
	return b.String()
}

// TestAdmissionKubernetes: the webhooks registered with a real
// kube-apiserver decide pods and deployments — signed by key and keyless,
// unsigned, wrongly signed, by tag (pinned to the digest), with many
// containers — under ClusterImagePolicies and a Kyverno policy from files
// and a ClusterImagePolicy resource watched in the cluster, in warn mode,
// and only in namespaces that opt in.
func TestAdmissionKubernetes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver")
	}
	kube := hallmarktest.Kubernetes(t)
	st := startStack(t, t.TempDir())
	tr := st.path(stack.TrustedRootFile)
	key, pub := shared(t)
	_, otherKey := keyPair(t, t.TempDir(), "other")
	otherKey = strings.TrimSuffix(otherKey, ".pub") + ".key"
	tok := st.token(t)

	signed := st.pushImage(t, "app:v1", "signed")
	unsigned := st.pushImage(t, "app:v2", "unsigned")
	wrong := st.pushImage(t, "app:v3", "wrong")
	keyless := st.pushImage(t, "kl:v1", "keyless")
	warnImg := st.pushImage(t, "warn:v1", "warn")
	kyvSigned := st.pushImage(t, "kyv/app:v1", "kyverno signed")
	kyvUnsigned := st.pushImage(t, "kyv/app:v2", "kyverno unsigned")
	blocked := st.pushImage(t, "blocked:v1", "blocked")
	for _, img := range []string{signed, kyvSigned} {
		mustHM(t, 0, pw, "sign", "--key", key, img)
	}
	mustHM(t, 0, pw, "sign", "--key", otherKey, wrong)
	mustHM(t, 0, nil, "sign", "--identity-token", tok, "--signing-config", st.path(stack.SigningConfigFile), "--trusted-root", tr, keyless)
	reg := strings.TrimPrefix(st.svc.Registry, "http://")
	private := hallmarktest.BasicAuthRegistry(t, reg, "puller", "s3cret")
	pubPEM := strings.TrimSpace(mustRead(t, pub))
	indent := func(s, pad string) string { return strings.ReplaceAll(s, "\n", "\n"+pad) }

	policies := t.TempDir()
	writeFile(t, filepath.Join(policies, "release.yaml"), fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: release}
spec:
  images: [{glob: "%[1]s/app*"}, {glob: "%[4]s/app*"}]
  authorities:
  - name: release-key
    key:
      data: |
        %[2]s
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: keyless}
spec:
  images: [{glob: "%[1]s/kl*"}]
  authorities:
  - name: ci
    keyless:
      identities: [{issuer: "%[3]s", subject: dev@hallmark.local}]
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: warn}
spec:
  mode: warn
  images: [{glob: "%[1]s/warn*"}]
  authorities:
  - name: release-key
    key:
      data: |
        %[2]s
`, reg, indent(pubPEM, "        "), st.svc.OIDC, private))
	writeFile(t, filepath.Join(policies, "kyverno.yaml"), fmt.Sprintf(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: kyv}
spec:
  validationFailureAction: Enforce
  rules:
  - name: signed
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["%s/kyv/*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |-
              %s
            rekor: {url: "%s", ignoreTlog: true}
`, reg, indent(pubPEM, "              "), st.svc.Rekor))

	// The CRD first (the server watches it), then the webhook
	// configurations (the server writes its CA into them), then the server.
	kube.MustRun(t, "", "apply", "-f", filepath.Join(repoRootDir(t), "deploy", "crd-clusterimagepolicies.yaml"))
	waitFor(t, 20*time.Second, "the ClusterImagePolicy CRD", func() bool {
		_, _, err := kube.Run("", "get", "clusterimagepolicies")
		return err == nil
	})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	kube.MustRun(t, strings.ReplaceAll(webhookConfigs, "URL", "https://"+addr), "apply", "-f", "-")
	mln, _ := net.Listen("tcp", "127.0.0.1:0")
	metricsAddr := mln.Addr().String()
	mln.Close()
	adm := startAdmissionAt(t, addr, "--policies", policies, "--kubeconfig", kube.Kubeconfig, "--watch", "--trusted-root", tr,
		"--self-signed-for", "127.0.0.1", "--patch-webhooks", "hallmark-admission", "--no-match", "allow",
		"--crd-poll", "1s", // Kyverno's CRDs come later in this test
		"--metrics-addr", metricsAddr)
	kube.MustRun(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: enforced, labels: {policy.sigstore.dev/include: \"true\"}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: free}\n", "apply", "-f", "-")

	create := func(doc string) (string, error) {
		out, errs, err := kube.Run(doc, "create", "-f", "-")
		return out + errs, err
	}
	// A new webhook configuration takes a moment to bite.
	waitFor(t, 30*time.Second, "the webhook to deny an unsigned pod", func() bool {
		out, err := create(strings.Replace(pod("probe", "enforced", unsigned), "metadata: {", "metadata: {generateName: probe-, ", 1))
		return err != nil && strings.Contains(out, "denied the request")
	})

	t.Run("signed by tag: admitted and pinned to its digest", func(t *testing.T) {
		if out, err := create(pod("signed", "enforced", signed)); err != nil {
			t.Fatalf("%v: %s\n%s", err, out, adm.stderr)
		}
		img := kube.MustRun(t, "", "get", "pod", "signed", "-n", "enforced", "-o", "jsonpath={.spec.containers[0].image}")
		if !strings.HasPrefix(img, signed+"@sha256:") {
			t.Errorf("image %q not pinned to a digest", img)
		}
	})
	t.Run("unsigned: denied, saying why", func(t *testing.T) {
		out, err := create(pod("unsigned", "enforced", unsigned))
		if err == nil {
			t.Fatal("created")
		}
		wantContains(t, out, "denied the request", unsigned, "ClusterImagePolicy/release", "authority release-key", "no signatures found")
	})
	t.Run("wrong key: denied", func(t *testing.T) {
		out, err := create(pod("wrong", "enforced", wrong))
		if err == nil {
			t.Fatal("created")
		}
		wantContains(t, out, "ClusterImagePolicy/release", "does not verify")
	})
	t.Run("keyless: admitted; another identity is not", func(t *testing.T) {
		if out, err := create(pod("keyless", "enforced", keyless)); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		other := st.pushImage(t, "kl:v2", "other identity")
		mustHM(t, 0, nil, "sign", "--identity-token", st.token(t, "--email", "ops@hallmark.local"), "--signing-config", st.path(stack.SigningConfigFile), "--trusted-root", tr, other)
		out, err := create(pod("keyless-other", "enforced", other))
		if err == nil {
			t.Fatal("created")
		}
		wantContains(t, out, "ClusterImagePolicy/keyless", "ops@hallmark.local")
	})
	t.Run("many containers: the one unsigned image is named", func(t *testing.T) {
		imgs := []string{}
		for range 8 {
			imgs = append(imgs, signed)
		}
		out, err := create(pod("many", "enforced", append(imgs, unsigned)...))
		if err == nil {
			t.Fatal("created")
		}
		wantContains(t, out, unsigned)
		if strings.Contains(out, "image "+signed+":") {
			t.Errorf("the signed image is named in the denial:\n%s", out)
		}
	})
	t.Run("deployment: admitted, its template pinned", func(t *testing.T) {
		doc := fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: enforced}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: %q}]\n", signed)
		if out, err := create(doc); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		img := kube.MustRun(t, "", "get", "deployment", "web", "-n", "enforced", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		if !strings.HasPrefix(img, signed+"@sha256:") {
			t.Errorf("template image %q not pinned", img)
		}
		bad := strings.NewReplacer("name: web,", "name: web2,", signed, unsigned).Replace(doc)
		if out, err := create(bad); err == nil || !strings.Contains(out, "no signatures found") {
			t.Errorf("unsigned deployment: %v %s", err, out)
		}
	})
	t.Run("warn mode: admitted with a warning", func(t *testing.T) {
		out, err := create(pod("warned", "enforced", warnImg))
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		wantContains(t, out, "Warning:", "(warn mode)", "ClusterImagePolicy/warn")
	})
	t.Run("namespace without the label: not judged", func(t *testing.T) {
		if out, err := create(pod("unsigned", "free", unsigned)); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	})
	t.Run("kyverno policy", func(t *testing.T) {
		if out, err := create(pod("kyv", "enforced", kyvSigned)); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		out, err := create(pod("kyv-unsigned", "enforced", kyvUnsigned))
		if err == nil {
			t.Fatal("created")
		}
		wantContains(t, out, "ClusterPolicy/kyv/signed", "no signatures found")
	})
	t.Run("a ClusterImagePolicy resource is watched", func(t *testing.T) {
		if out, err := create(pod("before", "enforced", blocked)); err != nil {
			t.Fatalf("no policy matches yet (no-match allow): %v %s", err, out)
		}
		kube.MustRun(t, fmt.Sprintf("apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: freeze}\nspec:\n  images: [{glob: \"%s/blocked*\"}]\n  authorities: [{name: freeze, static: {action: fail, message: change freeze}}]\n", reg), "apply", "-f", "-")
		waitFor(t, 20*time.Second, "the watched policy to apply", func() bool {
			out, err := create(strings.Replace(pod("after", "enforced", blocked), "metadata: {", "metadata: {generateName: after-, ", 1))
			return err != nil && strings.Contains(out, "change freeze") && strings.Contains(out, "ClusterImagePolicy/freeze")
		})
		kube.MustRun(t, "", "delete", "clusterimagepolicy", "freeze")
		waitFor(t, 20*time.Second, "the deleted policy to stop applying", func() bool {
			_, err := create(strings.Replace(pod("again", "enforced", blocked), "metadata: {", "metadata: {generateName: again-, ", 1))
			return err == nil
		})
	})
	t.Run("a private registry: the pod's pull secrets and its service account's", func(t *testing.T) {
		d := kube.MustRun(t, "", "get", "pod", "signed", "-n", "enforced", "-o", "jsonpath={.spec.containers[0].image}")
		img := private + "/app@" + d[strings.LastIndex(d, "@")+1:]
		// Without credentials the registry answers 401: that is said, not "unsigned".
		out, err := create(pod("private-anon", "enforced", img))
		if err == nil {
			t.Fatal("created without credentials")
		}
		wantContains(t, out, "401 Unauthorized")
		if strings.Contains(out, "no signatures") {
			t.Errorf("a registry refusing credentials reported as unsigned:\n%s", out)
		}
		kube.MustRun(t, "", "create", "secret", "docker-registry", "regcred", "-n", "enforced", "--docker-server="+private,
			"--docker-username=puller", "--docker-password=s3cret")
		withSecret := strings.Replace(pod("private", "enforced", img), "spec:\n", "spec:\n  imagePullSecrets: [{name: regcred}]\n", 1)
		if out, err := create(withSecret); err != nil {
			t.Fatalf("with the pod's pull secret: %v %s", err, out)
		}
		kube.MustRun(t, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder, namespace: enforced}\nimagePullSecrets: [{name: regcred}]\n", "apply", "-f", "-")
		// Another image, so that the cache does not answer for the first.
		second := st.pushImage(t, "app:sa", "pulled with the service account's secret")
		mustHM(t, 0, pw, "sign", "--key", key, second)
		viaSA := strings.Replace(pod("private-sa", "enforced", private+"/app:sa"), "spec:\n", "spec:\n  serviceAccountName: builder\n", 1)
		if out, err := create(strings.Replace(pod("private-sa-anon", "enforced", private+"/app:sa"), "spec:\n", "spec:\n  serviceAccountName: nobody\n", 1)); err == nil || !strings.Contains(out, "401") {
			t.Fatalf("a service account without pull secrets: %v %s", err, out)
		}
		if out, err := create(viaSA); err != nil {
			t.Fatalf("with the service account's pull secret: %v %s", err, out)
		}
		// The mutating webhook resolved the tag with the same credentials.
		if img := kube.MustRun(t, "", "get", "pod", "private-sa", "-n", "enforced", "-o", "jsonpath={.spec.containers[0].image}"); !strings.HasPrefix(img, private+"/app:sa@sha256:") {
			t.Errorf("image %q not pinned through the private registry", img)
		}
	})
	t.Run("a policy resource installed after the server started is watched", func(t *testing.T) {
		kube.MustRun(t, "", "apply", "-f", filepath.Join(repoRootDir(t), "deploy", "kyverno-crds"))
		late := st.pushImage(t, "late:v1", "late")
		waitFor(t, 20*time.Second, "the Kyverno CRD", func() bool {
			_, _, err := kube.Run("", "get", "clusterpolicies.kyverno.io")
			return err == nil
		})
		kube.MustRun(t, fmt.Sprintf(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: late}
spec:
  validationFailureAction: Enforce
  rules:
  - name: signed
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["%s/late*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |-
              %s
            rekor: {url: "%s", ignoreTlog: true}
`, reg, indent(pubPEM, "              "), st.svc.Rekor), "apply", "-f", "-")
		waitFor(t, 30*time.Second, "the Kyverno resource to apply", func() bool {
			out, err := create(strings.Replace(pod("late", "enforced", late), "metadata: {", "metadata: {generateName: late-, ", 1))
			return err != nil && strings.Contains(out, "ClusterPolicy/late/signed")
		})
	})
	t.Run("a policy resource that does not load denies what it names", func(t *testing.T) {
		broken := st.pushImage(t, "broken:v1", "broken")
		mustHM(t, 0, pw, "sign", "--key", key, broken)
		kube.MustRun(t, fmt.Sprintf("apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: typo}\nspec:\n  images: [{glob: \"%s/broken*\"}]\n  authorities: [{name: k, key: {data: \"not a key\"}}]\n", reg), "apply", "-f", "-")
		waitFor(t, 20*time.Second, "the broken policy to deny", func() bool {
			out, err := create(strings.Replace(pod("broken", "enforced", broken), "metadata: {", "metadata: {generateName: broken-, ", 1))
			return err != nil && strings.Contains(out, "ClusterImagePolicy/typo") && strings.Contains(out, "did not load")
		})
		// The others are still in force.
		if out, err := create(pod("still-signed", "enforced", signed)); err != nil {
			t.Fatalf("a broken policy stopped the others: %v %s", err, out)
		}
		if out, err := create(pod("still-unsigned", "enforced", unsigned)); err == nil || !strings.Contains(out, "no signatures found") {
			t.Fatalf("a broken policy stopped the others: %v %s", err, out)
		}
		kube.MustRun(t, "", "delete", "clusterimagepolicy", "typo")
	})
	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		wantContains(t, string(b), `hallmark_admission_decisions_total{decision="denied",webhook="validate"}`, `hallmark_admission_decisions_total{decision="patched",webhook="mutate"}`,
			"hallmark_admission_verifications_total", "hallmark_admission_cache_hits_total", "hallmark_admission_policy_load_errors_total", "hallmark_admission_policies ")
	})
	t.Run("the install manifests are accepted by the apiserver", func(t *testing.T) {
		// A server-side dry run of a namespace does not create it for the
		// objects in it.
		kube.MustRun(t, "", "create", "namespace", "hallmark-system")
		out, errs, err := kube.Run("", "apply", "--dry-run=server", "-f", filepath.Join(repoRootDir(t), "deploy"))
		if err != nil {
			t.Fatalf("%v\n%s%s", err, out, errs)
		}
	})
}

func startAdmissionAt(t *testing.T, addr string, args ...string) *admissionRun {
	t.Helper()
	return startAdmissionWith(t, addr, args)
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func repoRootDir(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	return filepath.Join(dir, "..", "..")
}
