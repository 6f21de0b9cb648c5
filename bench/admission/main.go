// Command admission measures the admission webhook: AdmissionReview
// requests per second and p50/p99 latency at a fixed rate (open loop: a
// request leaves on schedule whether or not earlier ones were answered)
// from a load generator on loopback, against `hallmark admission serve` as
// its own process, for pods of 1 and 8 containers, warm (one verified
// image, cached) and cold (a fresh signed digest in every container of
// every request); and the command line's start-up and `verify --key` wall
// time before and after the webhook's dependencies were linked in, with
// cosign measured in the same run.
//
//	go run ./bench/admission [-rate 1000] [-dur 10s] [-cold-rate 50] [-before d22dc74] [-n 20]
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"hallmark.dev/hallmark/bench/internal/proc"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/sign"
	"hallmark.dev/hallmark/pkg/verify"
)

func main() {
	rate := flag.Int("rate", 1000, "warm requests per second")
	coldRate := flag.Int("cold-rate", 50, "cold requests per second (every one needs fresh signed images)")
	dur := flag.Duration("dur", 10*time.Second, "how long each load runs")
	before := flag.String("before", "d22dc74", "git revision of the command line before the webhook's dependencies were linked in")
	n := flag.Int("n", 20, "runs per command for the start-up measurements")
	cliOnly := flag.Bool("cli-only", false, "measure only the command line's start-up and verify")
	cosignPath := proc.CosignFlag()
	flag.Parse()
	if err := run(*rate, *coldRate, *dur, *before, *n, *cosignPath, *cliOnly); err != nil {
		log.Fatal(err)
	}
}

func run(rate, coldRate int, dur time.Duration, before string, n int, cosignPath string, cliOnly bool) error {
	dir, hm, cleanup, err := proc.Setup(cosignPath)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	host, err := proc.Registry(ctx, dir)
	if err != nil {
		return err
	}
	fmt.Println("The command line with the webhook's dependencies linked in (client-go, apimachinery, JMESPath):")
	if err := startup(dir, hm, before, n, cosignPath, host); err != nil || cliOnly {
		return err
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := sign.New(key)
	if err != nil {
		return err
	}
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	pub := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))

	// Images: one warm, and enough fresh ones for the cold runs.
	coldNeeded := int(float64(coldRate)*(dur.Seconds()+1)*1.1)*2 + 16
	fmt.Printf("pushing and signing %d images (bundle format, keyed) in the embedded registry...\n", coldNeeded+1)
	images, err := pushSigned(ctx, host, signer, coldNeeded+1)
	if err != nil {
		return err
	}
	warm := images[0]
	cold := images[1:]

	policies := filepath.Join(dir, "policies.yaml")
	doc := fmt.Sprintf("apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: bench}\nspec:\n  images: [{glob: %q}]\n  authorities:\n  - name: key\n    key:\n      data: |\n        %s\n",
		host+"/bench/**", strings.ReplaceAll(pub, "\n", "\n        "))
	if err := os.WriteFile(policies, []byte(doc), 0o644); err != nil {
		return err
	}
	addr, stop, err := serve(hm, dir, policies)
	if err != nil {
		return err
	}
	defer stop()

	fmt.Printf("\nAdmissionReview (validate) against `hallmark admission serve` (its own process) on loopback, open loop, %s each\n", dur)
	fmt.Printf("%-34s %8s %10s %9s %9s %7s\n", "case", "rate", "answered/s", "p50", "p99", "errors")
	url := "https://" + addr + "/validate?timeout=10s"
	for _, containers := range []int{1, 8} {
		warmBody := review(slices.Repeat([]string{warm}, containers))
		// Prime the cache, and the connections at the rate.
		if _, err := post(client(), url, warmBody); err != nil {
			return err
		}
		openLoop(url, rate, 2*time.Second, func(int) []byte { return warmBody })
		r := openLoop(url, rate, dur, func(int) []byte { return warmBody })
		r.print(fmt.Sprintf("warm, %d container(s)", containers), rate)
	}
	next := 0
	var mu sync.Mutex
	for _, containers := range []int{1, 8} {
		// Eight fresh images a pod are eight verifications: a quarter of
		// the rate keeps the work the same as with one.
		cr := coldRate
		if containers == 8 {
			cr = max(1, coldRate/4)
		}
		r := openLoop(url, cr, dur, func(int) []byte {
			mu.Lock()
			defer mu.Unlock()
			if next+containers > len(cold) {
				next = 0 // out of fresh images: would be warm; sized to not happen
			}
			b := review(cold[next : next+containers])
			next += containers
			return b
		})
		r.print(fmt.Sprintf("cold, %d fresh image(s) per pod", containers), cr)
	}
	return nil
}

// pushSigned pushes count small images and signs each (bundle format).
func pushSigned(ctx context.Context, host string, s *sign.Signer, count int) ([]string, error) {
	c, err := oci.New()
	if err != nil {
		return nil, err
	}
	out := make([]string, count)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	sem := make(chan struct{}, 16)
	for i := range count {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ref := fmt.Sprintf("%s/bench/app%d:v1", host, i)
			if err := proc.PushSample(ref, fmt.Sprintf("admission bench image %d", i)); err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			tag, _ := name.NewTag(ref)
			d, desc, err := c.Resolve(ctx, tag)
			if err == nil {
				_, err = s.SignImage(ctx, c, d, desc, verify.FormatBundle, nil)
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			out[i] = d.String()
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return nil, e.(error)
	}
	return out, nil
}

// serve starts `hallmark admission serve` with a self-signed certificate.
func serve(hm, dir, policies string) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr = ln.Addr().String()
	ln.Close()
	cmd := exec.Command(hm, "admission", "serve", "--addr", addr, "--policies", policies, "--self-signed-for", "127.0.0.1",
		"--no-match", "deny", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := client().Get("https://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return addr, stop, nil
			}
		}
	}
	stop()
	return "", nil, fmt.Errorf("admission serve did not become ready")
}

var hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute}}

func client() *http.Client { return hc }

func review(images []string) []byte {
	var cs []map[string]string
	for i, im := range images {
		cs = append(cs, map[string]string{"name": fmt.Sprintf("c%d", i), "image": im})
	}
	obj, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p", "namespace": "bench"},
		"spec": map[string]any{"containers": cs}})
	b, _ := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": map[string]any{
		"uid": "u", "kind": map[string]string{"version": "v1", "kind": "Pod"}, "resource": map[string]string{"version": "v1", "resource": "pods"},
		"namespace": "bench", "name": "p", "operation": "CREATE", "userInfo": map[string]any{}, "object": json.RawMessage(obj)}})
	return b
}

// post sends one review and checks it was allowed.
func post(c *http.Client, url string, body []byte) (time.Duration, error) {
	start := time.Now()
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	el := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"allowed":true`)) {
		return 0, fmt.Errorf("%d %.300s", resp.StatusCode, b)
	}
	return el, nil
}

type result struct {
	answered float64
	p50, p99 time.Duration
	errors   int
	firstErr string
}

func (r result) print(title string, rate int) {
	fmt.Printf("%-34s %7d/s %9.0f/s %9s %9s %7d", title, rate, r.answered, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.errors)
	if r.firstErr != "" {
		fmt.Printf("  first: %.150s", r.firstErr)
	}
	fmt.Println()
}

// openLoop sends rate requests a second for dur, each on schedule, and
// measures every answer.
func openLoop(url string, rate int, dur time.Duration, body func(int) []byte) result {
	total := int(float64(rate) * dur.Seconds())
	interval := time.Second / time.Duration(rate)
	lats := make([]time.Duration, 0, total)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := 0
	first := ""
	start := time.Now()
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		b := body(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			el, err := post(client(), url, b)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				if first == "" {
					first = err.Error()
				}
				return
			}
			lats = append(lats, el)
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	slices.Sort(lats)
	r := result{answered: float64(len(lats)) / wall.Seconds(), errors: errs, firstErr: first}
	if len(lats) > 0 {
		r.p50, r.p99 = lats[len(lats)/2], lats[len(lats)*99/100]
	}
	return r
}

// startup compares `hallmark version` and `hallmark verify --key` before
// and after, with cosign's verify in the same run.
func startup(dir, after, before string, n int, cosignPath, host string) error {
	src := filepath.Join(dir, "before-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	sh := fmt.Sprintf("git archive %s | tar -x -C %s && cd %s && go build -o %s ./cmd/hallmark", before, src, src, filepath.Join(dir, "hallmark-before"))
	if out, err := exec.Command("bash", "-c", sh).CombinedOutput(); err != nil {
		return fmt.Errorf("building hallmark at %s: %v\n%s", before, err, out)
	}
	beforeBin := filepath.Join(dir, "hallmark-before")
	env := proc.Env(dir)
	if _, err := proc.Run(dir, env, after, "generate-key-pair"); err != nil {
		return err
	}
	ref := host + "/bench/cli:v1"
	if err := proc.PushSample(ref, "cli image"); err != nil {
		return err
	}
	if _, err := proc.Run(dir, env, after, "sign", "--key", "cosign.key", ref); err != nil {
		return err
	}
	root, err := proc.OfflineTrustedRoot(dir)
	if err != nil {
		return err
	}
	measure := func(args ...string) (time.Duration, int64, error) {
		_, _ = proc.Run(dir, env, args[0], args[1:]...)
		var ss []proc.Sample
		for range n {
			x, err := proc.Run(dir, env, args[0], args[1:]...)
			if err != nil {
				return 0, 0, err
			}
			ss = append(ss, x)
		}
		w, r := proc.Medians(ss)
		return w, r, nil
	}
	verifyArgs := []string{"verify", "--key", "cosign.pub", "--insecure-ignore-tlog", ref}
	rows := []struct {
		name string
		args []string
	}{
		{"hallmark version (before)", []string{beforeBin, "version"}},
		{"hallmark version (after)", []string{after, "version"}},
		{"hallmark verify --key (before)", append([]string{beforeBin}, verifyArgs...)},
		{"hallmark verify --key (after)", append([]string{after}, verifyArgs...)},
		{"cosign verify --key", []string{cosignPath, "verify", "--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", root, ref}},
	}
	fmt.Printf("%-32s %12s %14s   (%d runs each, medians)\n", "command", "wall", "maxRSS", n)
	walls := map[string]time.Duration{}
	for _, r := range rows {
		w, rss, err := measure(r.args...)
		if err != nil {
			return err
		}
		walls[r.name] = w
		fmt.Printf("%-32s %12s %11.1f MiB\n", r.name, w.Round(10*time.Microsecond), float64(rss)/1024)
	}
	fmt.Printf("version after-before: %+.2f ms; verify after/cosign: %.2f\n",
		float64(walls["hallmark version (after)"]-walls["hallmark version (before)"])/1e6,
		float64(walls["hallmark verify --key (after)"])/float64(walls["cosign verify --key"]))
	return nil
}
