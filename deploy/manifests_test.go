// Package deploy holds the install manifests; its test checks them.
package deploy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"hallmark.dev/hallmark/internal/cli"
	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/internal/server/admission"
	"hallmark.dev/hallmark/pkg/imagepolicy"
)

type manifests struct {
	namespaces          []*corev1.Namespace
	serviceAccounts     []*corev1.ServiceAccount
	configMaps          []*corev1.ConfigMap
	deployments         []*appsv1.Deployment
	statefulSets        []*appsv1.StatefulSet
	services            []*corev1.Service
	secrets             []*corev1.Secret
	clusterRoles        []*rbacv1.ClusterRole
	clusterRoleBindings []*rbacv1.ClusterRoleBinding
	mutatingWebhooks    []*admissionregistrationv1.MutatingWebhookConfiguration
	validatingWebhooks  []*admissionregistrationv1.ValidatingWebhookConfiguration
	crds                []*apiextensionsv1.CustomResourceDefinition
}

// load decodes every document of the kustomization in dir strictly into
// its Kubernetes type: an unknown or misspelt field fails.
func load(t *testing.T, dir string) *manifests {
	t.Helper()
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Namespace  string   `json:"namespace"`
		Resources  []string `json:"resources"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	m := &manifests{}
	for _, res := range k.Resources {
		m.decodeFile(t, filepath.Join(dir, res))
	}
	return m
}

// decodeFile decodes every document of a manifest file strictly into its
// Kubernetes type: an unknown or misspelt field, or a kind the test does
// not know, fails.
func (m *manifests) decodeFile(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s document %d: %v", file, i, err)
		}
		var obj any
		switch meta.Kind {
		case "Namespace":
			n := &corev1.Namespace{}
			m.namespaces, obj = append(m.namespaces, n), n
		case "ServiceAccount":
			a := &corev1.ServiceAccount{}
			m.serviceAccounts, obj = append(m.serviceAccounts, a), a
		case "ConfigMap":
			c := &corev1.ConfigMap{}
			m.configMaps, obj = append(m.configMaps, c), c
		case "Secret":
			s := &corev1.Secret{}
			m.secrets, obj = append(m.secrets, s), s
		case "Service":
			s := &corev1.Service{}
			m.services, obj = append(m.services, s), s
		case "Deployment":
			d := &appsv1.Deployment{}
			m.deployments, obj = append(m.deployments, d), d
		case "StatefulSet":
			s := &appsv1.StatefulSet{}
			m.statefulSets, obj = append(m.statefulSets, s), s
		case "PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "ClusterRole":
			r := &rbacv1.ClusterRole{}
			m.clusterRoles, obj = append(m.clusterRoles, r), r
		case "ClusterRoleBinding":
			r := &rbacv1.ClusterRoleBinding{}
			m.clusterRoleBindings, obj = append(m.clusterRoleBindings, r), r
		case "MutatingWebhookConfiguration":
			w := &admissionregistrationv1.MutatingWebhookConfiguration{}
			m.mutatingWebhooks, obj = append(m.mutatingWebhooks, w), w
		case "ValidatingWebhookConfiguration":
			w := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			m.validatingWebhooks, obj = append(m.validatingWebhooks, w), w
		case "CustomResourceDefinition":
			c := &apiextensionsv1.CustomResourceDefinition{}
			m.crds, obj = append(m.crds, c), c
		default:
			t.Fatalf("%s document %d: kind %q is not checked here", file, i, meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s document %d (%s): %v", file, i, meta.Kind, err)
		}
		// Go's JSON decoding matches field names regardless of case; the
		// apiserver does not. A field that comes back from the typed object
		// under another case was misspelt.
		var orig, round any
		b, _ := yaml.Marshal(obj)
		if err := yaml.Unmarshal([]byte(doc), &orig); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &round); err != nil {
			t.Fatal(err)
		}
		checkCase(t, fmt.Sprintf("%s document %d (%s)", file, i, meta.Kind), "", orig, round)
	}
}

// checkCase fails for every field of orig that round holds under a name
// differing only in case.
func checkCase(t *testing.T, where, path string, orig, round any) {
	t.Helper()
	switch o := orig.(type) {
	case map[string]any:
		r, _ := round.(map[string]any)
		for k, v := range o {
			if rv, ok := r[k]; ok {
				checkCase(t, where, path+"."+k, v, rv)
				continue
			}
			for rk := range r {
				if strings.EqualFold(rk, k) {
					t.Errorf("%s: field %s.%s is spelt %s", where, path, k, rk)
				}
			}
		}
	case []any:
		r, _ := round.([]any)
		for i, v := range o {
			if i < len(r) {
				checkCase(t, where, fmt.Sprintf("%s[%d]", path, i), v, r[i])
			}
		}
	}
}

func (m *manifests) secretKey(name, key string) bool {
	for _, s := range m.secrets {
		if s.Name == name {
			_, ok := s.StringData[key]
			return ok
		}
	}
	return false
}

// checkPod checks what a pod template refers to exists.
func checkPod(t *testing.T, m *manifests, owner string, labels map[string]string, spec *corev1.PodSpec) {
	for _, c := range spec.Containers {
		ports := map[string]bool{}
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
		for _, e := range c.Env {
			if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil && !m.secretKey(r.SecretKeyRef.Name, r.SecretKeyRef.Key) {
				t.Errorf("%s: env %s names secret %s key %s, which the manifests do not define", owner, e.Name, r.SecretKeyRef.Name, r.SecretKeyRef.Key)
			}
		}
		for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
			if p != nil && p.HTTPGet != nil && !ports[p.HTTPGet.Port.StrVal] {
				t.Errorf("%s: probe port %q is not a container port", owner, p.HTTPGet.Port.StrVal)
			}
		}
	}
	for _, v := range spec.Volumes {
		if v.Secret != nil && !m.secretKey(v.Secret.SecretName, "signer.pem") {
			t.Errorf("%s: volume %s names secret %s, not defined with signer.pem", owner, v.Name, v.Secret.SecretName)
		}
	}
	for _, s := range m.services {
		match := len(s.Spec.Selector) > 0
		for k, v := range s.Spec.Selector {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		for _, p := range s.Spec.Ports {
			found := false
			for _, c := range spec.Containers {
				for _, cp := range c.Ports {
					found = found || cp.Name == p.TargetPort.StrVal
				}
			}
			if !found {
				t.Errorf("service %s targets port %q, which %s does not name", s.Name, p.TargetPort.StrVal, owner)
			}
		}
	}
}

// TestLogManifests decodes deploy/log strictly, checks that what refers to
// what exists and that the connection budget fits the database, then runs
// the frontend's exact command line against a real MariaDB and probes it
// as the kubelet would.
func TestLogManifests(t *testing.T) {
	m := load(t, "log")
	if len(m.deployments) != 1 || len(m.statefulSets) != 1 {
		t.Fatalf("want one Deployment (frontends) and one StatefulSet (MariaDB), got %d and %d", len(m.deployments), len(m.statefulSets))
	}
	d, db := m.deployments[0], m.statefulSets[0]
	checkPod(t, m, "deployment "+d.Name, d.Spec.Template.Labels, &d.Spec.Template.Spec)
	checkPod(t, m, "statefulset "+db.Name, db.Spec.Template.Labels, &db.Spec.Template.Spec)
	c := d.Spec.Template.Spec.Containers[0]
	flag := func(args []string, name string) string {
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				return v
			}
		}
		return ""
	}
	conns, _ := strconv.Atoi(flag(c.Args, "mysql-max-conns"))
	maxConns, _ := strconv.Atoi(flag(db.Spec.Template.Spec.Containers[0].Args, "max-connections"))
	if budget := int(*d.Spec.Replicas) * conns; conns == 0 || budget+10 > maxConns {
		t.Errorf("%d frontends x --mysql-max-conns %d = %d connections; the database allows %d (keep 10 for operators)", *d.Spec.Replicas, conns, budget, maxConns)
	}
	var dsn string
	for _, s := range m.secrets {
		if s.Name == "hallmark-log-db" {
			dsn = s.StringData["dsn"]
		}
	}
	if !strings.Contains(dsn, "tcp("+db.Spec.ServiceName+":3306)") {
		t.Errorf("the DSN %q does not name the database service %s", dsn, db.Spec.ServiceName)
	}

	// The frontend's command line, as the pod runs it.
	testDSN := hallmarktest.MariaDB(t, "manifests")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(keyDir, "signer.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		if vm.Name == "signer" {
			mounts[vm.MountPath] = keyDir
		} else {
			mounts[vm.MountPath] = t.TempDir()
		}
	}
	ports := map[int32]string{}
	for _, p := range c.Ports {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		ports[p.ContainerPort] = ln.Addr().String()
		ln.Close()
	}
	var args []string
	for _, a := range c.Args {
		a = strings.ReplaceAll(a, "$(HALLMARK_MYSQL_DSN)", testDSN)
		for path, dir := range mounts {
			a = strings.ReplaceAll(a, path, dir)
		}
		for port, addr := range ports {
			a = strings.ReplaceAll(a, fmt.Sprintf("=:%d", port), "="+addr)
		}
		args = append(args, a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- cli.Run(ctx, args, strings.NewReader(""), io.Discard, &stderr) }()
	probe := func(p *corev1.Probe) {
		t.Helper()
		var port int32
		for _, cp := range c.Ports {
			if cp.Name == p.HTTPGet.Port.StrVal {
				port = cp.ContainerPort
			}
		}
		url := "http://" + ports[port] + p.HTTPGet.Path
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			select {
			case code := <-done:
				t.Fatalf("the frontend's command line exited %d: %v\n%s", code, args, &stderr)
			default:
			}
			if resp, err := http.Get(url); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("probe %s never answered 200", url)
			}
		}
	}
	probe(c.ReadinessProbe)
	probe(c.LivenessProbe)
	resp, err := http.Get("http://" + ports[9090] + "/metrics")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics port: %v", err)
	}
	resp.Body.Close()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("the frontend exited %d on shutdown:\n%s", code, &stderr)
		}
	case <-time.After(time.Duration(*d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second):
		t.Fatal("the frontend did not drain within the pod's termination grace period")
	}
}

// TestAdmissionManifests decodes what `kubectl apply -f deploy/` installs
// (and the optional Kyverno CRDs) strictly, and checks that the webhook
// configurations reach the server, that the server's command line is one
// `hallmark admission serve` accepts, that its account may do what the
// server does, and that the example policy loads.
func TestAdmissionManifests(t *testing.T) {
	m := &manifests{}
	kyverno, err := filepath.Glob("kyverno-crds/*.yaml")
	if err != nil || len(kyverno) == 0 {
		t.Fatalf("no kyverno-crds/*.yaml: %v", err)
	}
	for _, f := range append([]string{"admission.yaml", "crd-clusterimagepolicies.yaml"}, kyverno...) {
		m.decodeFile(t, f)
	}
	if len(m.namespaces) != 1 || len(m.deployments) != 1 || len(m.services) != 1 {
		t.Fatalf("want one Namespace, Deployment and Service, got %d, %d and %d", len(m.namespaces), len(m.deployments), len(m.services))
	}
	ns, d, svc := m.namespaces[0], m.deployments[0], m.services[0]
	if ns.Labels[includeLabel] != "false" {
		t.Errorf("namespace %s: want label %s=false (the webhook must not judge its own namespace), got %q", ns.Name, includeLabel, ns.Labels[includeLabel])
	}
	for kind, names := range map[string][]string{
		"Deployment": {d.Namespace}, "Service": {svc.Namespace},
		"ServiceAccount": namespacesOf(m.serviceAccounts), "ConfigMap": namespacesOf(m.configMaps),
	} {
		for _, n := range names {
			if n != ns.Name {
				t.Errorf("a %s is in namespace %q, not %s", kind, n, ns.Name)
			}
		}
	}

	// The server: its pod, and its command line against the CLI's own flags.
	spec := &d.Spec.Template.Spec
	checkPod(t, m, "deployment "+d.Name, d.Spec.Template.Labels, spec)
	if len(spec.Containers) != 1 {
		t.Fatalf("deployment %s: want one container, got %d", d.Name, len(spec.Containers))
	}
	c := spec.Containers[0]
	if len(c.Args) < 2 || c.Args[0] != "admission" || c.Args[1] != "serve" {
		t.Fatalf("deployment %s runs %v, not admission serve", d.Name, c.Args)
	}
	var help bytes.Buffer
	if code := cli.Run(context.Background(), []string{"admission", "serve", "--help"}, strings.NewReader(""), &help, &help); code != 0 {
		t.Fatalf("admission serve --help exited %d:\n%s", code, &help)
	}
	for _, a := range c.Args {
		name, ok := strings.CutPrefix(a, "--")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		if !regexp.MustCompile(`(?m)^\s+(?:-\w, )?--` + regexp.QuoteMeta(name) + `(?:[\s\[=]|$)`).MatchString(help.String()) {
			t.Errorf("deployment %s: admission serve has no flag --%s", d.Name, name)
		}
	}
	addrPort := portOf(t, argValue(c.Args, "addr"))
	if p, ok := containerPort(&c, strconv.Itoa(int(addrPort))); !ok || p.ContainerPort != addrPort {
		t.Errorf("--addr %s is not a container port", argValue(c.Args, "addr"))
	}
	if metrics := argValue(c.Args, "metrics-addr"); metrics != "" {
		if p, ok := containerPort(&c, strconv.Itoa(int(portOf(t, metrics)))); !ok || p.Name != "metrics" {
			t.Errorf("--metrics-addr %s is not the container port named metrics", metrics)
		}
	}
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Fatalf("deployment %s: want HTTP readiness and liveness probes", d.Name)
		}
		cp, ok := containerPort(&c, p.HTTPGet.Port.String())
		if !ok || cp.ContainerPort != addrPort || p.HTTPGet.Scheme != corev1.URISchemeHTTPS {
			t.Errorf("deployment %s: probe %s on port %s (%s): want the HTTPS port of --addr, %d", d.Name, p.HTTPGet.Path, p.HTTPGet.Port.String(), p.HTTPGet.Scheme, addrPort)
		}
	}
	if self, patch := argValue(c.Args, "self-signed-for"), argValue(c.Args, "patch-webhooks"); self != "" && patch != "" {
		if r := d.Spec.Replicas; r == nil || *r != 1 {
			t.Errorf("deployment %s: with --self-signed-for and --patch-webhooks each replica writes its own CA; want replicas: 1", d.Name)
		}
		if want := svc.Name + "." + svc.Namespace + ".svc"; !slices.Contains(strings.Split(self, ","), want) {
			t.Errorf("--self-signed-for %s does not name the Service as the apiserver calls it, %s", self, want)
		}
		for _, w := range m.mutatingWebhooks {
			if w.Name != patch {
				t.Errorf("--patch-webhooks %s does not name the mutating webhook configuration %s", patch, w.Name)
			}
		}
		for _, w := range m.validatingWebhooks {
			if w.Name != patch {
				t.Errorf("--patch-webhooks %s does not name the validating webhook configuration %s", patch, w.Name)
			}
		}
	}

	// The policies: --policies is a mounted ConfigMap whose files load.
	policies := argValue(c.Args, "policies")
	var policyMap *corev1.ConfigMap
	for _, vm := range c.VolumeMounts {
		if vm.MountPath != policies {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil {
				for _, cm := range m.configMaps {
					if cm.Name == v.ConfigMap.Name {
						policyMap = cm
					}
				}
			}
		}
	}
	if policyMap == nil || len(policyMap.Data) == 0 {
		t.Fatalf("--policies %s is not a mounted ConfigMap of the manifests with policy files", policies)
	}
	for key, data := range policyMap.Data {
		ps, err := imagepolicy.Parse(key, []byte(data))
		if err != nil {
			t.Errorf("configmap %s key %s: %v", policyMap.Name, key, err)
		}
		for _, p := range ps {
			t.Logf("configmap %s: policy %s", policyMap.Name, p.Name)
		}
	}
	for _, v := range spec.Volumes {
		if v.ConfigMap == nil || (v.ConfigMap.Optional != nil && *v.ConfigMap.Optional) {
			continue
		}
		if !slices.ContainsFunc(m.configMaps, func(cm *corev1.ConfigMap) bool { return cm.Name == v.ConfigMap.Name }) {
			t.Errorf("volume %s names configmap %s, which the manifests do not define (nor mark optional)", v.Name, v.ConfigMap.Name)
		}
	}

	// The webhooks reach the server, in time, and only in opted-in namespaces.
	type hook struct {
		config, name, wantPath string
		cc                     admissionregistrationv1.WebhookClientConfig
		timeout                *int32
		failure                *admissionregistrationv1.FailurePolicyType
		selector               *metav1.LabelSelector
		rules                  []admissionregistrationv1.RuleWithOperations
		versions               []string
	}
	var hooks []hook
	for _, w := range m.mutatingWebhooks {
		for _, h := range w.Webhooks {
			hooks = append(hooks, hook{"mutating " + w.Name, h.Name, "/mutate", h.ClientConfig, h.TimeoutSeconds, h.FailurePolicy, h.NamespaceSelector, h.Rules, h.AdmissionReviewVersions})
		}
	}
	for _, w := range m.validatingWebhooks {
		for _, h := range w.Webhooks {
			hooks = append(hooks, hook{"validating " + w.Name, h.Name, "/validate", h.ClientConfig, h.TimeoutSeconds, h.FailurePolicy, h.NamespaceSelector, h.Rules, h.AdmissionReviewVersions})
		}
	}
	if len(m.mutatingWebhooks) != 1 || len(m.validatingWebhooks) != 1 || len(hooks) != 2 {
		t.Fatalf("want one mutating and one validating configuration of one webhook each, got %d", len(hooks))
	}
	for _, h := range hooks {
		where := h.config + " " + h.name
		s := h.cc.Service
		if s == nil || h.cc.URL != nil {
			t.Errorf("%s: want clientConfig.service, not a URL", where)
			continue
		}
		if s.Name != svc.Name || s.Namespace != svc.Namespace {
			t.Errorf("%s: calls service %s/%s, not %s/%s", where, s.Namespace, s.Name, svc.Namespace, svc.Name)
		}
		port := int32(443)
		if s.Port != nil {
			port = *s.Port
		}
		var target string
		for _, p := range svc.Spec.Ports {
			if p.Port == port {
				target = p.TargetPort.String()
			}
		}
		if cp, ok := containerPort(&c, target); !ok || cp.ContainerPort != addrPort {
			t.Errorf("%s: service port %d does not reach the webhooks' --addr port %d", where, port, addrPort)
		}
		if s.Path == nil || *s.Path != h.wantPath {
			t.Errorf("%s: path %v, want %s", where, s.Path, h.wantPath)
		}
		if len(h.cc.CABundle) != 0 {
			t.Errorf("%s: a caBundle in the manifest would be overwritten by --patch-webhooks and restored by every apply", where)
		}
		if h.timeout == nil || *h.timeout > 15 {
			t.Errorf("%s: timeoutSeconds %v; want at most 15 (every admission waits that long for a slow registry)", where, h.timeout)
		}
		if h.failure == nil || *h.failure != admissionregistrationv1.Fail {
			t.Errorf("%s: failurePolicy %v; want Fail", where, h.failure)
		}
		if !slices.Contains(h.versions, "v1") {
			t.Errorf("%s: admissionReviewVersions %v; the server answers v1", where, h.versions)
		}
		if !requiresInclude(h.selector) {
			t.Errorf("%s: namespaceSelector %v does not require %s=true", where, h.selector, includeLabel)
		}
		if sel, err := metav1.LabelSelectorAsSelector(h.selector); err != nil || sel.Matches(labels.Set(ns.Labels)) {
			t.Errorf("%s: namespaceSelector selects the webhook's own namespace %s (%v)", where, ns.Name, err)
		}
		pods := false
		for _, r := range h.rules {
			pods = pods || slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, "pods") && slices.Contains(r.Operations, admissionregistrationv1.Create)
		}
		if !pods {
			t.Errorf("%s: its rules do not send pod creations", where)
		}
	}

	// The server's account may do what the server does, and no more on the
	// webhook configurations.
	if len(m.clusterRoles) != 1 {
		t.Fatalf("want one ClusterRole, got %d", len(m.clusterRoles))
	}
	role := m.clusterRoles[0]
	if !slices.ContainsFunc(m.serviceAccounts, func(a *corev1.ServiceAccount) bool { return a.Name == spec.ServiceAccountName }) {
		t.Errorf("deployment %s: serviceAccountName %q is not defined", d.Name, spec.ServiceAccountName)
	}
	bound := false
	for _, b := range m.clusterRoleBindings {
		if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != role.Name || b.RoleRef.APIGroup != rbacv1.GroupName {
			continue
		}
		for _, s := range b.Subjects {
			bound = bound || s.Kind == rbacv1.ServiceAccountKind && s.Name == spec.ServiceAccountName && s.Namespace == d.Namespace
		}
	}
	if !bound {
		t.Errorf("service account %s/%s is not bound to clusterrole %s", d.Namespace, spec.ServiceAccountName, role.Name)
	}
	grants := func(group, resource, verb, name string) bool {
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) &&
				(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, name)) {
				return true
			}
		}
		return false
	}
	for _, gvr := range admission.PolicyResources {
		for _, verb := range []string{"get", "list", "watch"} {
			if !grants(gvr.Group, gvr.Resource, verb, "") {
				t.Errorf("clusterrole %s: no %s on %s, which the server watches", role.Name, verb, gvr.GroupResource())
			}
		}
	}
	for _, res := range []string{"secrets", "serviceaccounts"} {
		if !grants("", res, "get", "any") {
			t.Errorf("clusterrole %s: no get on %s (key secrets, image pull secrets)", role.Name, res)
		}
	}
	for _, res := range []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"} {
		for _, verb := range []string{"get", "update"} {
			if !grants(admissionregistrationv1.GroupName, res, verb, "hallmark-admission") {
				t.Errorf("clusterrole %s: no %s on %s hallmark-admission", role.Name, verb, res)
			}
		}
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, admissionregistrationv1.GroupName) && (slices.Contains(r.Resources, res) || slices.Contains(r.Resources, "*")) &&
				!slices.Equal(r.ResourceNames, []string{"hallmark-admission"}) {
				t.Errorf("clusterrole %s: %s granted beyond resourceNames [hallmark-admission]: %v", role.Name, res, r.ResourceNames)
			}
		}
	}

	// Every policy resource the server watches has a CRD here serving the
	// version it reads, stored in exactly one version.
	for _, crd := range m.crds {
		storage := 0
		for _, v := range crd.Spec.Versions {
			if v.Storage {
				storage++
			}
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil || v.Schema.OpenAPIV3Schema.Type != "object" {
				t.Errorf("crd %s %s: no object schema", crd.Name, v.Name)
			}
			if v.Subresources == nil || v.Subresources.Status == nil {
				t.Errorf("crd %s %s: no status subresource", crd.Name, v.Name)
			}
		}
		if storage != 1 || crd.Name != crd.Spec.Names.Plural+"."+crd.Spec.Group {
			t.Errorf("crd %s: %d storage versions; names %s.%s", crd.Name, storage, crd.Spec.Names.Plural, crd.Spec.Group)
		}
	}
	for _, gvr := range admission.PolicyResources {
		served := false
		for _, crd := range m.crds {
			for _, v := range crd.Spec.Versions {
				served = served || crd.Spec.Group == gvr.Group && crd.Spec.Names.Plural == gvr.Resource && v.Name == gvr.Version && v.Served
			}
		}
		if !served {
			t.Errorf("no CRD serves %s, which the server watches", gvr)
		}
	}
	for _, crd := range m.crds {
		if crd.Spec.Group != "policy.sigstore.dev" {
			continue
		}
		n := crd.Spec.Names
		if crd.Spec.Scope != apiextensionsv1.ClusterScoped || n.Kind != "ClusterImagePolicy" || !slices.Equal(n.ShortNames, []string{"cip"}) {
			t.Errorf("crd %s: scope %s kind %s shortNames %v; want policy-controller's", crd.Name, crd.Spec.Scope, n.Kind, n.ShortNames)
		}
		for _, v := range crd.Spec.Versions {
			if want := v.Name == "v1alpha1"; v.Storage != want || !v.Served || !slices.Contains([]string{"v1alpha1", "v1beta1"}, v.Name) {
				t.Errorf("crd %s: version %s served %v storage %v; want policy-controller's (v1alpha1 stored, v1beta1 served)", crd.Name, v.Name, v.Served, v.Storage)
			}
			if s := v.Schema.OpenAPIV3Schema.Properties["spec"]; !slices.Equal(s.Required, []string{"images"}) {
				t.Errorf("crd %s %s: spec requires %v, want [images]", crd.Name, v.Name, s.Required)
			}
		}
	}
}

const includeLabel = "policy.sigstore.dev/include"

// requiresInclude reports whether a namespace selector selects only
// namespaces labelled include=true.
func requiresInclude(s *metav1.LabelSelector) bool {
	if s == nil {
		return false
	}
	if s.MatchLabels[includeLabel] == "true" {
		return true
	}
	for _, e := range s.MatchExpressions {
		if e.Key == includeLabel && e.Operator == metav1.LabelSelectorOpIn && slices.Equal(e.Values, []string{"true"}) {
			return true
		}
	}
	return false
}

func namespacesOf[T interface{ GetNamespace() string }](objs []T) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetNamespace())
	}
	return out
}

// argValue is the value of --name in args, written --name=value or
// --name value.
func argValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// portOf is the port of a listen address such as ":8443".
func portOf(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	if err != nil || n == 0 {
		t.Fatalf("listen address %q: no port", addr)
	}
	return int32(n)
}

// containerPort finds a container port by name or number.
func containerPort(c *corev1.Container, ref string) (corev1.ContainerPort, bool) {
	for _, p := range c.Ports {
		if p.Name == ref || strconv.Itoa(int(p.ContainerPort)) == ref {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}
