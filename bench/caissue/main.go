// Command caissue measures certificate issuance: certificates issued per
// second (identity token verified, proof of possession checked, certificate
// signed) by Hallmark's CA and by Fulcio, at several client concurrencies,
// driven by the same load generator in the same run. Hallmark is measured
// without a CT log (as Fulcio here) and with its CT log embedding an SCT in
// every certificate. Every service runs as its own process on loopback; the
// tokens come from Hallmark's identity provider and are minted before the
// clock starts.
//
//	go run ./bench/caissue [-d 10s] [-c 1,16,256] [-fulcio PATH] [-only PREFIX] [-before COMMIT]
//
// -before adds hallmark serve built at COMMIT (git archive) as a further side,
// so that a change to the serving path is measured against its parent in one
// run (this machine drifts by tens of percent between runs).
//
// Each row also gives the CPU time the serving processes used per
// certificate (from /proc): the load generator shares the two cores, so a
// faster server leaves itself less of them, and this says what each
// certificate cost the server itself.
//
// scripts/build-fulcio builds the peer (v1.8.8) from the module proxy.
package main

import (
	"context"
	"encoding/base64"
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
	"strconv"
	"strings"
	"time"

	"hallmark.dev/hallmark/bench/internal/load"
	"hallmark.dev/hallmark/bench/internal/proc"
	"hallmark.dev/hallmark/pkg/idp"
	"hallmark.dev/hallmark/pkg/keys"
)

func main() {
	home, _ := os.UserHomeDir()
	load.ClientFlag()
	dur := flag.Duration("d", 10*time.Second, "measuring time per side and concurrency")
	levels := flag.String("c", "1,16,256", "client concurrencies")
	fulcio := flag.String("fulcio", filepath.Join(home, ".cache/hallmark-fulcio/v1.8.8/fulcio"), "Fulcio binary (scripts/build-fulcio)")
	flag.StringVar(&profileDir, "profile", "", "write CPU profiles of Hallmark's processes, taken during each run, to this directory")
	flag.StringVar(&only, "only", "", "measure only the sides whose name starts with this")
	before := flag.String("before", "", "also measure hallmark serve built at this commit (git archive)")
	flag.Parse()
	if err := run(*dur, *levels, *fulcio, *before); err != nil {
		log.Fatal(err)
	}
}

var profileDir, only string

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs a server process until the benchmark ends.
func start(dir, name, bin string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cmd, nil
}

func run(dur time.Duration, levels, fulcioBin, before string) error {
	if _, err := os.Stat(fulcioBin); err != nil {
		return fmt.Errorf("fulcio binary %s: %w (scripts/build-fulcio builds it)", fulcioBin, err)
	}
	dir, err := os.MkdirTemp("", "hallmark-cabench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	hallmark := filepath.Join(dir, "hallmark")
	if out, err := exec.Command("go", "build", "-o", hallmark, "./cmd/hallmark").CombinedOutput(); err != nil {
		return fmt.Errorf("building hallmark: %v\n%s", err, out)
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(os.Interrupt)
			_ = p.Wait()
		}
	}()
	quiet := []string{"--log-level", "error", "--max-in-flight", "100000"}

	oidcAddr := freeAddr()
	p, err := start(dir, "oidc", hallmark, append([]string{"oidc", "serve", "--addr", oidcAddr, "--data", filepath.Join(dir, "oidc"), "--identity", "bench@example.com", "--token-ttl", "1h"}, quiet...)...)
	if err != nil {
		return err
	}
	procs = append(procs, p)
	issuer := "http://" + oidcAddr
	if err := load.WaitReady(issuer+"/readyz", 30*time.Second); err != nil {
		return err
	}
	secret, err := os.ReadFile(filepath.Join(dir, "oidc", "client-secret"))
	if err != nil {
		return err
	}
	client := &idp.APIClient{Issuer: issuer, ClientID: "hallmark", ClientSecret: strings.TrimSpace(string(secret))}

	// The CAs: Fulcio (ephemeral CA, no CT), Hallmark without CT, and
	// Hallmark with its CT log.
	fulcioAddr, fulcioGRPC := freeAddr(), freeAddr()
	cfg, _ := json.Marshal(map[string]any{"OIDCIssuers": map[string]any{issuer: map[string]string{"IssuerURL": issuer, "ClientID": "sigstore", "Type": "email"}}})
	cfgPath := filepath.Join(dir, "fulcio-config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return err
	}
	fhost, fport, _ := net.SplitHostPort(fulcioAddr)
	_, gport, _ := net.SplitHostPort(fulcioGRPC)
	if p, err = start(dir, "fulcio", fulcioBin, "serve", "--ca", "ephemeralca", "--ct-log-url", "", "--config-path", cfgPath,
		"--host", fhost, "--port", fport, "--grpc-host", fhost, "--grpc-port", gport, "--metrics-port", strings.Split(freeAddr(), ":")[1],
		"--legacy-unix-domain-socket", "@hallmark-bench-fulcio-"+strconv.Itoa(os.Getpid()), "--log_type", "prod"); err != nil {
		return err
	}
	procs = append(procs, p)
	fulcioProc := p

	caAddr, caAloneDebug := freeAddr(), freeAddr()
	if p, err = start(dir, "ca", hallmark, append([]string{"ca", "serve", "--addr", caAddr, "--data", filepath.Join(dir, "ca"), "--oidc-issuer", issuer, "--debug-addr", caAloneDebug}, quiet...)...); err != nil {
		return err
	}
	procs = append(procs, p)
	caProc := p
	if err := load.WaitReady("http://"+caAddr+"/readyz", 30*time.Second); err != nil {
		return err
	}
	// As hallmark serve: the CT log's root is the CA's issuing certificate.
	issuingCert, err := firstCert(filepath.Join(dir, "ca", "chain.pem"))
	if err != nil {
		return err
	}
	ctAddr, ctDebug, caDebug := freeAddr(), freeAddr(), freeAddr()
	if p, err = start(dir, "ct", hallmark, append([]string{"ct", "serve", "--addr", ctAddr, "--data", filepath.Join(dir, "ct"), "--roots", issuingCert, "--debug-addr", ctDebug}, quiet...)...); err != nil {
		return err
	}
	procs = append(procs, p)
	ctProc := p
	if err := load.WaitReady("http://"+ctAddr+"/readyz", 30*time.Second); err != nil {
		return err
	}
	caCTAddr := freeAddr()
	if p, err = start(dir, "ca-ct", hallmark, append([]string{"ca", "serve", "--addr", caCTAddr, "--data", filepath.Join(dir, "ca"), "--oidc-issuer", issuer,
		"--ct-url", "http://" + ctAddr, "--ct-public-key", filepath.Join(dir, "ct", "public.pem"), "--ct-submit-chain=false", "--debug-addr", caDebug}, quiet...)...); err != nil {
		return err
	}
	procs = append(procs, p)
	caCTProc := p
	if err := load.WaitReady("http://"+caCTAddr+"/readyz", 30*time.Second); err != nil {
		return err
	}
	if err := waitFulcio("http://" + fulcioAddr); err != nil {
		return fmt.Errorf("%w (log in %s)", err, filepath.Join(dir, "fulcio.log"))
	}

	// hallmark serve: the CA with its CT log in the same process.
	serveCA, serveReqs, serveDebug, err := startServe(dir, "serve", hallmark, &procs)
	if err != nil {
		return err
	}
	serveProc := procs[len(procs)-1]
	var beforeProc *exec.Cmd
	var beforeCA, beforeDebug string
	var beforeReqs []load.Request
	if before != "" {
		bin := filepath.Join(dir, "hallmark-before")
		src := filepath.Join(dir, "before-src")
		sh := fmt.Sprintf("mkdir -p %s && git archive %s | tar -x -C %s && cd %s && go build -o %s ./cmd/hallmark", src, before, src, src, bin)
		if out, err := exec.Command("sh", "-c", sh).CombinedOutput(); err != nil {
			return fmt.Errorf("building hallmark at %s: %v\n%s", before, err, out)
		}
		if beforeCA, beforeReqs, beforeDebug, err = startServe(dir, "serve-before", bin, &procs); err != nil {
			return err
		}
		beforeProc = procs[len(procs)-1]
	}

	reqs, err := requests(client, 512)
	if err != nil {
		return err
	}
	type side struct {
		name, url string
		reqs      []load.Request
		procs     []*exec.Cmd // whose CPU time serves this side
	}
	sides := []side{
		{"Fulcio v1.8.8 (no CT)", "http://" + fulcioAddr, reqs, []*exec.Cmd{fulcioProc}},
		{"Hallmark CA (no CT)", "http://" + caAddr, reqs, []*exec.Cmd{caProc}},
		{"Hallmark CA + CT log process (SCT)", "http://" + caCTAddr, reqs, []*exec.Cmd{caCTProc, ctProc}},
		{"hallmark serve: CA + CT (SCT)", serveCA, serveReqs, []*exec.Cmd{serveProc}},
	}
	if before != "" {
		sides = append(sides, side{"hallmark serve at " + before, beforeCA, beforeReqs, []*exec.Cmd{beforeProc}})
	}
	fmt.Printf("certificate issuance, %s per side and level, same load generator (client %s), all on this machine (%d CPUs)\n", dur, load.Client, runtimeCPUs())
	for _, lv := range strings.Split(levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(lv))
		if err != nil || c < 1 {
			return fmt.Errorf("-c: %q", lv)
		}
		var rates []float64
		for si, s := range sides {
			if only != "" && !strings.HasPrefix(s.name, only) {
				rates = append(rates, 0) // not measured: no ratio names it
				continue
			}
			next := func(i int) load.Request { r := s.reqs[i%len(s.reqs)]; r.URL = s.url + "/api/v2/signingCert"; return r }
			_, _ = load.Run(c, time.Second, http.StatusOK, next) // warm up
			if profileDir != "" && si == 1 {
				go profile(caAloneDebug, filepath.Join(profileDir, fmt.Sprintf("ca-alone-%d.prof", c)), dur)
			}
			if profileDir != "" && si == 2 {
				go profile(ctDebug, filepath.Join(profileDir, fmt.Sprintf("ct-%d.prof", c)), dur)
				go profile(caDebug, filepath.Join(profileDir, fmt.Sprintf("ca-%d.prof", c)), dur)
			}
			if profileDir != "" && si == 3 {
				go profile(serveDebug, filepath.Join(profileDir, fmt.Sprintf("serve-%d.prof", c)), dur)
			}
			if profileDir != "" && si == 4 {
				go profile(beforeDebug, filepath.Join(profileDir, fmt.Sprintf("serve-before-%d.prof", c)), dur)
			}
			cpu0 := proc.CPUTime(s.procs...)
			res, err := load.Run(c, dur, http.StatusOK, next)
			if err != nil {
				return fmt.Errorf("%s at %d clients: %w", s.name, c, err)
			}
			cpu := proc.CPUTime(s.procs...) - cpu0
			rates = append(rates, res.Rate)
			fmt.Printf("%4d clients  %-36s %s  server CPU %4.0f µs/cert\n", c, s.name, res, cpu.Seconds()*1e6/(res.Rate*dur.Seconds()))
		}
		if rates[0] > 0 && rates[1] > 0 && rates[2] > 0 && rates[3] > 0 {
			fmt.Printf("%4d clients  Hallmark / Fulcio-without-CT: %.2fx without CT; with an SCT: %.2fx (CT log process), %.2fx (hallmark serve)\n",
				c, rates[1]/rates[0], rates[2]/rates[0], rates[3]/rates[0])
		}
		if before != "" && rates[3] > 0 && rates[4] > 0 {
			fmt.Printf("%4d clients  hallmark serve / at %s: %.2fx\n", c, before, rates[3]/rates[4])
		}
	}
	return nil
}

func runtimeCPUs() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// waitFulcio waits for Fulcio's configuration endpoint.
func waitFulcio(url string) error {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(url + "/api/v2/configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("fulcio at %s did not start", url)
}

// requests builds n signing-certificate requests: a fresh key each, its
// proof of possession over the token's e-mail, a few tokens shared.
func requests(c *idp.APIClient, n int) ([]load.Request, error) {
	var toks []string
	for i := 0; i < 8; i++ {
		t, err := c.EmailToken(context.Background(), "", "sigstore")
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
	}
	out := make([]load.Request, n)
	for i := range out {
		k, err := keys.Generate()
		if err != nil {
			return nil, err
		}
		proof, err := keys.Sign(k, []byte("bench@example.com"))
		if err != nil {
			return nil, err
		}
		pemKey, _ := keys.MarshalPublicKey(k.Public())
		body, _ := json.Marshal(map[string]any{"publicKeyRequest": map[string]any{
			"publicKey": map[string]string{"algorithm": "ECDSA", "content": string(pemKey)}, "proofOfPossession": base64.StdEncoding.EncodeToString(proof)}})
		out[i] = load.Request{ContentType: "application/json", Body: body, Header: http.Header{"Authorization": {"Bearer " + toks[i%len(toks)]}}}
	}
	return out, nil
}

// profile saves a CPU profile of the process serving pprof at addr.
func profile(addr, path string, d time.Duration) {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds())))
	if err != nil {
		log.Print(err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		log.Print(err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// startServe starts hallmark serve (bin) in dir/name and returns its CA's
// URL, requests carrying tokens from its issuer, and its pprof address.
func startServe(dir, name, bin string, procs *[]*exec.Cmd) (string, []load.Request, string, error) {
	serveDir := filepath.Join(dir, name)
	debug := freeAddr()
	args := []string{"serve", "--data", serveDir, "--identity", "bench@example.com", "--token-ttl", "1h", "--debug-addr", debug,
		"--log-level", "error", "--max-in-flight", "100000"}
	for _, s := range []string{"registry", "rekor", "ct", "ca", "oidc", "tsa"} {
		args = append(args, "--"+s+"-addr", "127.0.0.1:0")
	}
	p, err := start(dir, name, bin, args...)
	if err != nil {
		return "", nil, "", err
	}
	*procs = append(*procs, p)
	var svc struct{ CA, OIDC string }
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(serveDir, "services.json")); err == nil && json.Unmarshal(b, &svc) == nil && svc.CA != "" {
			break
		}
		if time.Now().After(deadline) {
			return "", nil, "", fmt.Errorf("%s did not start (log in %s)", name, filepath.Join(dir, name+".log"))
		}
	}
	if err := load.WaitReady(svc.CA+"/readyz", 30*time.Second); err != nil {
		return "", nil, "", err
	}
	secret, err := os.ReadFile(filepath.Join(serveDir, "oidc", "client-secret"))
	if err != nil {
		return "", nil, "", err
	}
	reqs, err := requests(&idp.APIClient{Issuer: svc.OIDC, ClientID: "hallmark", ClientSecret: strings.TrimSpace(string(secret))}, 512)
	return svc.CA, reqs, debug, err
}

// firstCert writes the first certificate of a PEM file to its own file.
func firstCert(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "", fmt.Errorf("%s: no PEM certificate", path)
	}
	out := path + ".issuer"
	return out, os.WriteFile(out, pem.EncodeToMemory(block), 0o644)
}
