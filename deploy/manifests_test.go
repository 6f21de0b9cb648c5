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
