package admission

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"hallmark.dev/hallmark/pkg/imagepolicy"
)

var (
	secretsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	accountsGVR = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	// PolicyResources are the custom resources --watch reads.
	PolicyResources = []schema.GroupVersionResource{
		{Group: "policy.sigstore.dev", Version: "v1beta1", Resource: "clusterimagepolicies"},
		{Group: "kyverno.io", Version: "v1", Resource: "clusterpolicies"},
		{Group: "kyverno.io", Version: "v1", Resource: "policies"},
	}
)

// Cluster reads what admission needs from the cluster: pull secrets and
// service accounts (credentials), key secrets, and policy resources.
type Cluster struct {
	dyn       dynamic.Interface
	namespace string // where key secrets without a namespace are
	logger    *slog.Logger
	// CRDPoll is how often a policy resource that is not installed is
	// looked for (default 30 s).
	CRDPoll time.Duration

	mu      sync.Mutex
	objects map[string]cachedObject
}

type cachedObject struct {
	obj *unstructured.Unstructured
	err error
	at  time.Time
}

// ttl: an object is reused for secretTTL, its absence for 5 s (a secret
// created just before its pod is seen at once).
func (o cachedObject) ttl() time.Duration {
	if o.err != nil {
		return 5 * time.Second
	}
	return secretTTL
}

// secretTTL is how long a secret read is reused: pods of one rollout ask
// for the same pull secrets many times a second.
const secretTTL = 30 * time.Second

// Connect reaches the cluster with kubeconfig, or from inside a pod when
// kubeconfig is "".
func Connect(kubeconfig, namespace string, logger *slog.Logger) (*Cluster, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	cfg.Timeout = 5 * time.Second
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "hallmark-admission"
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Cluster{dyn: dyn, namespace: namespace, logger: logger, objects: map[string]cachedObject{}, CRDPoll: 30 * time.Second}, nil
}

// get reads an object, reusing a read younger than secretTTL (pods of one
// rollout ask for the same secrets and service account many times a
// second, through a client limited to 50 requests a second).
func (c *Cluster) get(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	key := gvr.Resource + "/" + ns + "/" + name
	c.mu.Lock()
	if s, ok := c.objects[key]; ok && time.Since(s.at) < s.ttl() {
		c.mu.Unlock()
		return s.obj, s.err
	}
	c.mu.Unlock()
	u, err := c.dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if ctx.Err() == nil && (err == nil || apierrors.IsNotFound(err)) {
		c.mu.Lock()
		c.objects[key] = cachedObject{u, err, time.Now()}
		c.mu.Unlock()
	}
	return u, err
}

func (c *Cluster) secret(ctx context.Context, ns, name string) (map[string][]byte, error) {
	u, err := c.get(ctx, secretsGVR, ns, name)
	var data map[string][]byte
	if err == nil {
		data, err = secretData(u)
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", ns, name, err)
	}
	return data, nil
}

func secretData(u *unstructured.Unstructured) (map[string][]byte, error) {
	raw, _, err := unstructured.NestedStringMap(u.Object, "data")
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for k, v := range raw {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("data %s is not base64", k)
		}
		out[k] = b
	}
	return out, nil
}

// Keychain is the credentials a pod pulls with: its image pull secrets and
// its service account's (missing secrets are skipped, as the kubelet does).
func (c *Cluster) Keychain(ctx context.Context, ns string, pullSecrets []string, serviceAccount string) (authn.Keychain, error) {
	if serviceAccount == "" {
		serviceAccount = "default"
	}
	names := append([]string(nil), pullSecrets...)
	if sa, err := c.get(ctx, accountsGVR, ns, serviceAccount); err == nil {
		list, _, _ := unstructured.NestedSlice(sa.Object, "imagePullSecrets")
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				if n, ok := m["name"].(string); ok {
					names = append(names, n)
				}
			}
		}
	} else if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("service account %s/%s: %w", ns, serviceAccount, err)
	}
	kc := &pullKeychain{}
	for _, n := range names {
		data, err := c.secret(ctx, ns, n)
		if err != nil {
			c.logger.Debug("pull secret skipped", "namespace", ns, "secret", n, "error", err)
			continue
		}
		entries, err := parsePullSecret(ns+"/"+n, data)
		if err != nil {
			c.logger.Warn("pull secret unreadable", "error", err)
			continue
		}
		kc.entries = append(kc.entries, entries...)
	}
	return kc, nil
}

// PublicKey reads a key authority's secret: its cosign.pub, or its only
// entry (policy-controller's rule).
func (c *Cluster) PublicKey(ctx context.Context, ref imagepolicy.SecretRef) (string, error) {
	ns := ref.Namespace
	if ns == "" {
		ns = c.namespace
	}
	data, err := c.secret(ctx, ns, ref.Name)
	if err != nil {
		return "", err
	}
	if k, ok := data["cosign.pub"]; ok {
		return string(k), nil
	}
	if len(data) != 1 {
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "", fmt.Errorf("secret %s/%s: want a cosign.pub entry or exactly one entry, got %v", ns, ref.Name, keys)
	}
	for _, v := range data {
		return string(v), nil
	}
	return "", nil
}

// WatchPolicies watches the policy resources that exist in the cluster and
// calls onChange with every policy document (JSON) at start and after each
// change (changes within 200 ms are one call). A resource whose CRD is not
// installed yet is looked for again every c.CRDPoll, and watched from when it
// appears. It returns once the first listing is done.
func (c *Cluster) WatchPolicies(ctx context.Context, onChange func(docs [][]byte)) error {
	w := &policyWatch{c: c}
	var missing []schema.GroupVersionResource
	for _, gvr := range PolicyResources {
		ok, err := w.start(ctx, gvr)
		if err != nil {
			return err
		}
		if !ok {
			c.logger.Info("policy resource not installed yet; looked for again", "resource", gvr.String(), "every", c.CRDPoll)
			missing = append(missing, gvr)
		}
	}
	for _, inf := range w.list() {
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			return fmt.Errorf("watching policies: the first listing did not finish")
		}
	}
	w.dirty.Store(false)
	onChange(w.collect())
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		poll := time.NewTicker(c.CRDPoll)
		defer poll.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-poll.C:
				var still []schema.GroupVersionResource
				for _, gvr := range missing {
					if ok, err := w.start(ctx, gvr); err != nil || !ok {
						still = append(still, gvr)
					} else {
						c.logger.Info("policy resource installed; now watched", "resource", gvr.String())
					}
				}
				missing = still
			case <-tick.C:
				if w.dirty.Swap(false) {
					onChange(w.collect())
				}
			}
		}
	}()
	return nil
}

// policyWatch is the informers of the policy resources being watched.
type policyWatch struct {
	c         *Cluster
	mu        sync.Mutex
	informers []cache.SharedIndexInformer
	dirty     atomic.Bool
}

// start watches gvr; false when the resource is not installed. Plain shared
// informers over the dynamic client: the typed informer factories would
// link every API group into the binary (and its start).
func (w *policyWatch) start(ctx context.Context, gvr schema.GroupVersionResource) (bool, error) {
	res := w.c.dyn.Resource(gvr)
	if _, err := res.List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("listing %s: %w", gvr.Resource, err)
	}
	lw := &cache.ListWatch{
		ListWithContextFunc:  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return res.List(ctx, o) },
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return res.Watch(ctx, o) },
	}
	inf := cache.NewSharedIndexInformer(lw, &unstructured.Unstructured{}, 10*time.Minute, cache.Indexers{})
	mark := func(any) { w.dirty.Store(true) }
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: mark, UpdateFunc: func(_, n any) { mark(n) }, DeleteFunc: mark,
	}); err != nil {
		return false, err
	}
	w.mu.Lock()
	w.informers = append(w.informers, inf)
	w.mu.Unlock()
	go inf.RunWithContext(ctx)
	return true, nil
}

func (w *policyWatch) list() []cache.SharedIndexInformer {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]cache.SharedIndexInformer(nil), w.informers...)
}

// collect is every watched policy object as JSON.
func (w *policyWatch) collect() [][]byte {
	var docs [][]byte
	for _, inf := range w.list() {
		for _, o := range inf.GetStore().List() {
			if u, ok := o.(*unstructured.Unstructured); ok {
				if b, err := json.Marshal(u.Object); err == nil {
					docs = append(docs, b)
				}
			}
		}
	}
	return docs
}
