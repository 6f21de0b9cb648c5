package admission

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"net"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"hallmark.dev/hallmark/pkg/pki"
)

// SelfSigned makes a CA and a serving certificate for hosts (DNS names or
// IPs) in dir (tls.crt, tls.key, ca.crt) and returns the CA's PEM, the
// caBundle webhook configurations need. The certificate lasts a year; a
// restart makes a new one.
func SelfSigned(dir string, hosts []string) ([]byte, error) {
	now := time.Now()
	chain, caKey, _, err := pki.NewCA(pki.CASpec{Organization: "hallmark", CommonName: "hallmark admission CA", Validity: 2 * 365 * 24 * time.Hour}, now)
	if err != nil {
		return nil, fmt.Errorf("serving CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		NotBefore:   now.Add(-5 * time.Minute),
		NotAfter:    now.Add(365 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	leaf, err := pki.Issue(tmpl, chain[0], key.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	keyPEM, err := pki.MarshalKey(key)
	if err != nil {
		return nil, err
	}
	caPEM := pki.EncodeCertificates(chain...)
	for name, data := range map[string][]byte{"tls.crt": pki.EncodeCertificates(leaf), "tls.key": keyPEM, "ca.crt": caPEM} {
		if err := pki.WriteFileAtomic(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return caPEM, nil
}

var webhookConfigs = []schema.GroupVersionResource{
	{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"},
}

// PatchCABundle writes caPEM into every webhook's clientConfig.caBundle of
// the validating and mutating webhook configurations called name (those
// that exist; at least one must).
func (c *Cluster) PatchCABundle(ctx context.Context, name string, caPEM []byte) error {
	found := 0
	for _, gvr := range webhookConfigs {
		res := c.dyn.Resource(gvr)
		u, err := res.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		found++
		hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
		for i := range hooks {
			if m, ok := hooks[i].(map[string]any); ok {
				cc, _ := m["clientConfig"].(map[string]any)
				if cc == nil {
					cc = map[string]any{}
				}
				cc["caBundle"] = base64.StdEncoding.EncodeToString(caPEM)
				m["clientConfig"] = cc
			}
		}
		if err := unstructured.SetNestedSlice(u.Object, hooks, "webhooks"); err != nil {
			return err
		}
		if _, err := res.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("writing the CA into %s %s: %w", gvr.Resource, name, err)
		}
	}
	if found == 0 {
		return fmt.Errorf("--patch-webhooks %s: no validating or mutating webhook configuration of that name", name)
	}
	return nil
}
