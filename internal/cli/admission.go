package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/internal/server/admission"
	"hallmark.dev/hallmark/pkg/admit"
	"hallmark.dev/hallmark/pkg/imagepolicy"
)

func (a *app) admissionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admission",
		Short: "Kubernetes admission: enforce signature and attestation policies when workloads are created",
	}
	cmd.AddCommand(a.admissionServeCommand(), a.admissionReviewCommand())
	return cmd
}

type admissionServeOptions struct {
	admit         admitFlags
	ops           opsFlags
	addr          string
	tlsCert       string
	tlsKey        string
	selfSignedFor []string
	tlsDir        string
	patchWebhooks string
	watch         bool
	kubeconfig    string
	namespace     string
	timeout       time.Duration
	crdPoll       time.Duration
}

func (a *app) admissionServeCommand() *cobra.Command {
	o := &admissionServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve --policies DIR [--watch] (--tls-cert C --tls-key K | --self-signed-for HOST) [--addr :8443]",
		Short: "Serve the validating (/validate) and mutating (/mutate) admission webhooks",
		Long: `Serve AdmissionReview v1 webhooks over HTTPS for Pods and every workload with
a pod template. /mutate pins the tags of images a policy matches to their
digests; /validate checks every image against every policy matching it
(ClusterImagePolicy and Kyverno verifyImages) and denies with the image,
policy, authority and failed check, or in warn mode allows with warnings.

Each answer comes inside the apiserver's timeout for the call. Verifications
are cached by (digest, authority) and concurrent ones coalesce; a registry
that fails or throttles is reported as such, never as "unsigned".

With --watch, the policy files are re-read when they change and, in a cluster,
ClusterImagePolicy and Kyverno ClusterPolicy/Policy resources are watched.
With --self-signed-for, a serving certificate is made at start and, with
--patch-webhooks NAME, its CA written into the webhook configurations NAME.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.admissionServe(cmd.Context(), o)
		},
	}
	o.admit.add(cmd, "policies", string(admit.NoMatchDeny))
	o.ops.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.addr, "addr", ":8443", "address of the webhooks (HTTPS)")
	fl.StringVar(&o.tlsCert, "tls-cert", "", "serving certificate (PEM)")
	fl.StringVar(&o.tlsKey, "tls-key", "", "serving key (PEM)")
	fl.StringSliceVar(&o.selfSignedFor, "self-signed-for", nil, "make a CA and serving certificate for these DNS names or IPs at start (e.g. hallmark-admission.hallmark-system.svc)")
	fl.StringVar(&o.tlsDir, "tls-dir", "", "where --self-signed-for writes its files (default: a temporary directory)")
	fl.StringVar(&o.patchWebhooks, "patch-webhooks", "", "write the self-signed CA into the caBundle of the validating and mutating webhook configurations of this name")
	fl.BoolVar(&o.watch, "watch", false, "reload the policy files when they change, and watch policy resources in the cluster")
	fl.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: the pod's service account when in a cluster)")
	fl.StringVar(&o.namespace, "namespace", envOr("POD_NAMESPACE", "hallmark-system"), "namespace of key secrets named without one")
	fl.DurationVar(&o.timeout, "webhook-timeout", 10*time.Second, "the webhooks' timeoutSeconds, for requests that do not carry ?timeout=")
	fl.DurationVar(&o.crdPoll, "crd-poll", 30*time.Second, "with --watch, how often policy resources whose CRD is not installed are looked for")
	return cmd
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (a *app) admissionServe(ctx context.Context, o *admissionServeOptions) error {
	logger, err := a.serverLogger(&o.ops)
	if err != nil {
		return err
	}
	inCluster := os.Getenv("KUBERNETES_SERVICE_HOST") != ""
	var cluster *admission.Cluster
	if o.kubeconfig != "" || inCluster {
		if cluster, err = admission.Connect(o.kubeconfig, o.namespace, logger); err != nil {
			return err
		}
		cluster.CRDPoll = o.crdPoll
	} else if o.watch && len(o.admit.policies) == 0 {
		return fmt.Errorf("%w: --watch without --policies needs a cluster (--kubeconfig, or run in one)", errUsage)
	}
	if o.patchWebhooks != "" && (cluster == nil || len(o.selfSignedFor) == 0) {
		return fmt.Errorf("%w: --patch-webhooks needs --self-signed-for and a cluster (--kubeconfig, or run in one)", errUsage)
	}
	cfg, err := o.admit.engineConfig(logger)
	if err != nil {
		return err
	}
	if cluster != nil {
		cfg.Secrets = cluster
	}
	files, err := o.admit.loadPolicies("policies")
	if err != nil {
		return err
	}
	if len(files) == 0 && !o.watch {
		return fmt.Errorf("%w: no policies: give --policies (files or directories), or --watch in a cluster", errUsage)
	}
	cfg.Policies = files
	base, err := admit.New(cfg) // the files must load: a typo fails the start
	if err != nil {
		return withCode(exitUsage, err)
	}
	// From now on (reloads, cluster resources) a policy that does not load
	// is logged and denies what it names; the others stay in force.
	loadErrors := prometheus.NewCounter(prometheus.CounterOpts{Name: "hallmark_admission_policy_load_errors_total",
		Help: "Policies that did not load at a (re)load: each denies the images it names until fixed."})
	cfg.OnInvalid = func(p *imagepolicy.Policy, err error) {
		loadErrors.Inc()
		logger.Error("policy not loaded; it denies the images it names until fixed", "policy", p.Name, "source", p.Source, "error", err)
	}
	base, err = admit.New(cfg)
	if err != nil {
		return withCode(exitUsage, err)
	}
	var current atomic.Pointer[admit.Engine]
	current.Store(base)

	certFile, keyFile := o.tlsCert, o.tlsKey
	if len(o.selfSignedFor) > 0 {
		if certFile != "" || keyFile != "" {
			return fmt.Errorf("%w: give --tls-cert/--tls-key or --self-signed-for, not both", errUsage)
		}
		dir := o.tlsDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "hallmark-admission-tls-"); err != nil {
				return err
			}
			defer os.RemoveAll(dir)
		}
		caPEM, err := admission.SelfSigned(dir, o.selfSignedFor)
		if err != nil {
			return err
		}
		certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
		if o.patchWebhooks != "" {
			if err := cluster.PatchCABundle(ctx, o.patchWebhooks, caPEM); err != nil {
				return err
			}
			logger.Info("webhook configurations given the serving CA", "name", o.patchWebhooks)
		}
	}
	if certFile == "" || keyFile == "" {
		return fmt.Errorf("%w: the apiserver calls webhooks over HTTPS: give --tls-cert and --tls-key, or --self-signed-for HOST", errUsage)
	}

	// Reloads: the policy files and the cluster's resources, merged.
	if o.watch {
		r := &reloader{base: base, current: &current, logger: logger, files: o.admit.policies, fileSet: files}
		if err := r.start(ctx, cluster); err != nil {
			return err
		}
	}
	ln, err := listen("addr", o.addr)
	if err != nil {
		return err
	}
	rv := &admission.Reviewer{Engine: current.Load, Logger: logger}
	if cluster != nil {
		rv.Credentials = cluster
	}
	h := admission.NewHandler(rv, o.timeout)
	loaded := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hallmark_admission_policies", Help: "Policies in force (files and cluster resources)."},
		func() float64 { return float64(len(current.Load().Policies())) })
	logger.Info("admission webhooks", "addr", ln.Addr().String(), "policies", len(current.Load().Policies()), "no-match", o.admit.noMatch)
	return a.runServices(ctx, &o.ops, logger, []service{{
		name: "admission", ln: ln, handler: h, tlsCert: certFile, tlsKey: keyFile, collectors: append(h.Collectors(), loadErrors, loaded),
	}})
}

// reloader rebuilds the engine when the policy files or the cluster's
// policy resources change; a policy that does not load is logged and left
// out, the others stay in force.
type reloader struct {
	base    *admit.Engine
	current interface{ Store(*admit.Engine) }
	logger  *slog.Logger
	files   []string

	mu      sync.Mutex
	fileSet []*imagepolicy.Policy
	cluster []*imagepolicy.Policy
	// building is held from snapshot to Store, so that an older set is
	// never stored after a newer one.
	building sync.Mutex
}

func (r *reloader) start(ctx context.Context, cluster *admission.Cluster) error {
	if cluster != nil {
		err := cluster.WatchPolicies(ctx, func(docs [][]byte) {
			var ps []*imagepolicy.Policy
			for _, d := range docs {
				got, err := imagepolicy.ParseDocument(d)
				if err != nil {
					r.logger.Error("cluster policy not loaded; it denies the images it names until fixed", "error", err)
					got = imagepolicy.Unreadable(d, err)
				}
				for _, p := range got {
					p.Source = "cluster"
				}
				ps = append(ps, got...)
			}
			r.mu.Lock()
			r.cluster = ps
			r.mu.Unlock()
			r.rebuild()
		})
		if err != nil {
			return err
		}
	}
	if len(r.files) > 0 {
		go r.pollFiles(ctx)
	}
	// Keys held in Secrets are read when policies compile: rebuilding each
	// minute brings a rotated key in (secrets are re-read after 30 s).
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.rebuild()
			}
		}
	}()
	return nil
}

func (r *reloader) rebuild() {
	r.building.Lock()
	defer r.building.Unlock()
	r.mu.Lock()
	ps := append(append([]*imagepolicy.Policy(nil), r.fileSet...), r.cluster...)
	r.mu.Unlock()
	e, err := r.base.WithPolicies(ps)
	if err != nil {
		r.logger.Error("policies not reloaded", "error", err)
		return
	}
	r.current.Store(e)
	r.logger.Debug("policies loaded", "count", len(e.Policies()))
}

// pollFiles re-reads the policy files when a modification time changes.
func (r *reloader) pollFiles(ctx context.Context) {
	last := stamp(r.files)
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := stamp(r.files)
		if now == last {
			continue
		}
		last = now
		ps, err := imagepolicy.LoadPaths(r.files)
		if err != nil {
			r.logger.Error("policy files not reloaded; the previous ones stay in force", "error", err)
			continue
		}
		r.mu.Lock()
		r.fileSet = ps
		r.mu.Unlock()
		r.rebuild()
	}
}

func stamp(paths []string) string {
	var s string
	for _, p := range paths {
		_ = filepath.Walk(p, func(path string, info os.FileInfo, err error) error {
			if err == nil {
				s += fmt.Sprintf("%s@%d/%d;", path, info.ModTime().UnixNano(), info.Size())
			}
			return nil
		})
	}
	return s
}

func (a *app) admissionReviewCommand() *cobra.Command {
	var f admitFlags
	cmd := &cobra.Command{
		Use:   "review --policies DIR FILE.json",
		Short: "Answer an AdmissionReview read from a file, as the webhooks would",
		Long: `Answer the AdmissionReview v1 in FILE ("-" for standard input) and print it
with its response: allowed or denied with the reasons, warnings, and for an
allowed object the JSON patch pinning tags to digests (both webhooks' work in
one answer).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body []byte
			var err error
			if args[0] == "-" {
				body, err = readAllLimited(a.stdin, 8<<20)
			} else {
				body, err = os.ReadFile(args[0])
			}
			if err != nil {
				return fmt.Errorf("reading the AdmissionReview: %w", err)
			}
			ps, err := f.loadPolicies("policies")
			if err != nil {
				return err
			}
			if len(ps) == 0 {
				return fmt.Errorf("%w: --policies is required", errUsage)
			}
			cfg, err := f.engineConfig(nil)
			if err != nil {
				return err
			}
			cfg.Policies = ps
			e, err := admit.New(cfg)
			if err != nil {
				return withCode(exitUsage, err)
			}
			ctx, cancel := a.withTimeout(cmd.Context())
			defer cancel()
			rv := &admission.Reviewer{Engine: func() *admit.Engine { return e }}
			out, err := rv.Review(ctx, body, admission.Both)
			if err != nil {
				var re *admission.ReviewError
				if errors.As(err, &re) {
					return withCode(exitUsage, fmt.Errorf("%s: %w", args[0], err))
				}
				return err
			}
			b, _ := json.MarshalIndent(out, "", "  ")
			fmt.Fprintln(a.stdout, string(b))
			return nil
		},
	}
	f.add(cmd, "policies", string(admit.NoMatchDeny))
	return cmd
}

func readAllLimited(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n {
		return nil, fmt.Errorf("more than %d bytes", n)
	}
	return b, nil
}
