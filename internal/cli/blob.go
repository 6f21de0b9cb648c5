package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/sign"
	"hallmark.dev/hallmark/pkg/verify"
)

type signBlobOptions struct {
	keyPath, bundlePath, sigPath, certPath, tsPath string
	b64, newBundleFormat, yes                      bool
	log                                            logFlags
	keyless                                        keylessFlags
}

// writeCertificate writes a keyless signature's certificate to
// --output-certificate: PEM, base64-encoded unless --b64=false, as cosign.
func (a *app) writeCertificate(o *signBlobOptions, s *sign.Signer) error {
	if o.certPath == "" {
		return nil
	}
	c := s.Certificate()
	if c == nil {
		a.infof("No certificate to write to %s: the blob was signed with a key", o.certPath)
		return nil
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	if o.b64 {
		out = []byte(base64.StdEncoding.EncodeToString(out))
	}
	if err := writeFileMode(o.certPath, out, 0o600, true); err != nil {
		return err
	}
	a.infof("Wrote certificate to file %s", o.certPath)
	return nil
}

func (a *app) signBlobCommand() *cobra.Command {
	o := &signBlobOptions{}
	cmd := &cobra.Command{
		Use:   "sign-blob [--key KEY] --bundle OUT (FILE | -)",
		Short: "Sign a file (or standard input) and write a Sigstore bundle",
		Long: `Sign a file, or standard input given as -, with a key or keyless (no --key:
a short-lived certificate from the CA for an OIDC identity, see hallmark sign).

The default (cosign v3's) writes a Sigstore bundle (--bundle). With
--new-bundle-format=false, --bundle writes cosign's legacy blob bundle (base64
signature and log entry), and the signature goes to --output-signature or,
without it, to standard output (base64 unless --b64=false).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.signBlob(cmd.Context(), o, args[0]) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.keyPath, "key", "k", "", "private key: an encrypted key file, or env://VAR")
	f.StringVar(&o.bundlePath, "bundle", "", "write the bundle to this file (a Sigstore bundle; the legacy JSON with --new-bundle-format=false)")
	f.StringVar(&o.sigPath, "output-signature", "", "write the signature to this file")
	f.StringVar(&o.sigPath, "output", "", "alias of --output-signature (cosign's deprecated name)")
	_ = f.MarkHidden("output")
	f.StringVar(&o.certPath, "output-certificate", "", "write the signing certificate to this file (keyless signatures only; a key signature has none)")
	f.BoolVar(&o.b64, "b64", true, "write the signature (and certificate) base64-encoded; false writes raw bytes")
	f.BoolVar(&o.newBundleFormat, "new-bundle-format", true, "write a Sigstore bundle (false: cosign v2's outputs)")
	f.BoolVarP(&o.yes, "yes", "y", false, "skip confirmation prompts (Hallmark never prompts here; accepted for cosign compatibility)")
	f.StringVar(&o.tsPath, "rfc3161-timestamp", "", "write the RFC 3161 timestamp to this file, as cosign does (JSON: base64 DER under SignedRFC3161Timestamp; with --timestamp-server-url or tsaUrls)")
	o.log.add(cmd)
	o.keyless.add(cmd)
	notYet(cmd, slices.Clone(hardwareKeyFlags)...)
	return cmd
}

func (a *app) signBlob(ctx context.Context, o *signBlobOptions, arg string) error {
	if o.newBundleFormat && o.bundlePath == "" && o.sigPath == "" {
		return fmt.Errorf("%w: give --bundle FILE (or --output-signature FILE) to say where the signature goes", errUsage)
	}
	// A regular file is read once, through its hashes, never held whole:
	// for a keyless signer (a fresh P-256 key, SHA-256) while the CA issues
	// the certificate, for a key once the key says which hash. Standard input
	// and other streams are read whole first, before a password prompt can
	// read from them.
	type hashed struct {
		blob verify.Blob
		err  error
	}
	var (
		blob  verify.Blob
		src   io.ReadCloser
		early chan hashed
	)
	if arg == "-" {
		data, err := a.readBlob(arg)
		if err != nil {
			return err
		}
		blob = verify.BlobData(data)
	} else {
		f, err := os.Open(arg)
		if err != nil {
			return fmt.Errorf("reading blob %s: %w", arg, err)
		}
		defer f.Close()
		fi, err := f.Stat()
		switch {
		case err != nil:
			return fmt.Errorf("reading blob %s: %w", arg, err)
		case fi.IsDir():
			return fmt.Errorf("reading blob %s: is a directory", arg)
		case !fi.Mode().IsRegular():
			// A pipe or device (/dev/stdin, a FIFO) may be the stream a
			// password prompt reads: read it whole first, as "-".
			data, err := readAllLimited(f, maxBlob)
			if err != nil {
				return fmt.Errorf("reading blob %s: %w", arg, err)
			}
			blob = verify.BlobData(data)
		default:
			src = f
			if o.keyPath == "" {
				early = make(chan hashed, 1)
				go func() { b, err := verify.HashBlob(f); early <- hashed{b, err} }()
			}
		}
	}
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	s, err := a.signerFor(ctx, o.keyPath, &o.log, &o.keyless)
	if err != nil {
		return err
	}
	if o.tsPath != "" && !s.Timestamped() {
		return fmt.Errorf("%w: --rfc3161-timestamp %s: no timestamp authority to ask (give --timestamp-server-url or tsaUrls in --signing-config)", errUsage, o.tsPath)
	}
	if src != nil {
		if early != nil {
			select {
			case h := <-early:
				blob, err = h.blob, h.err
			case <-ctx.Done(): // a large or slow file past --timeout
				err = ctx.Err()
			}
		} else {
			blob, err = verify.HashBlob(src, verify.HashName(s.Hash()))
		}
		if err != nil {
			return fmt.Errorf("reading blob %s: %w", arg, err)
		}
	}
	b, err := s.SignBlobBundle(ctx, blob)
	if err != nil {
		return err
	}
	if o.bundlePath != "" {
		var out []byte
		if o.newBundleFormat {
			out, err = cosign.MarshalBundle(b)
		} else {
			out, err = sign.LegacyBlobBundle(b)
		}
		if err != nil {
			return err
		}
		if err := writeFileMode(o.bundlePath, out, 0o600, true); err != nil {
			return err
		}
		a.infof("Wrote bundle to file %s", o.bundlePath)
	}
	sig := b.GetMessageSignature().GetSignature()
	if o.b64 {
		sig = []byte(base64.StdEncoding.EncodeToString(sig))
	}
	switch {
	case o.sigPath != "":
		if err := writeFileMode(o.sigPath, sig, 0o600, true); err != nil {
			return err
		}
		a.infof("Wrote signature to file %s", o.sigPath)
	case !o.newBundleFormat:
		if o.b64 {
			sig = append(sig, '\n')
		}
		if _, err := a.stdout.Write(sig); err != nil {
			return err
		}
	}
	if err := a.writeCertificate(o, s); err != nil {
		return err
	}
	if o.tsPath != "" {
		tss := b.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()
		if len(tss) == 0 {
			return fmt.Errorf("--rfc3161-timestamp %s: no timestamp authority was asked (give --timestamp-server-url or tsaUrls in --signing-config)", o.tsPath)
		}
		out, err := json.Marshal(cosign.RFC3161Annotation{SignedRFC3161Timestamp: tss[0].GetSignedTimestamp()})
		if err != nil {
			return err
		}
		if err := writeFileMode(o.tsPath, out, 0o600, true); err != nil {
			return err
		}
		a.infof("Wrote RFC3161 timestamp to file %s", o.tsPath)
	}
	return nil
}

// readBlob reads a blob argument: a file, or standard input for "-".
func (a *app) readBlob(arg string) ([]byte, error) {
	if arg == "-" {
		data, err := readAllLimited(a.stdin, maxBlob)
		if err != nil {
			return nil, fmt.Errorf("reading the blob from standard input: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", arg, err)
	}
	return data, nil
}

// maxBlob caps a blob read whole from standard input or another stream.
const maxBlob = 1 << 30

type verifyBlobOptions struct {
	auth                  authorityFlags
	bundlePath, signature string
	certificate           string
	timestamp             string
	newBundleFormat       bool
}

func (a *app) verifyBlobCommand() *cobra.Command {
	o := &verifyBlobOptions{}
	cmd := &cobra.Command{
		Use:   "verify-blob (--key PUB | --certificate-identity ID --certificate-oidc-issuer URL --trusted-root FILE) (--bundle BUNDLE | --signature SIG) (FILE | - | sha256:<hex>)",
		Short: "Verify a file (or its digest) against a Sigstore bundle or a detached signature",
		Long: `Verify a file, standard input (-), or an artifact known by its digest
(sha256:<hex>, or sha384: and sha512: for in-toto bundles), against a Sigstore
bundle: a signature over the file, or a DSSE envelope over an in-toto statement
naming the file as a subject. cosign's legacy blob bundle and a detached
--signature (base64 or raw, a file or the value itself; with --key, or with
--certificate for keyless) are read too. Keyless signatures verify under
--trusted-root; nothing is fetched.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.verifyBlob(o, args[0]) },
	}
	o.auth.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.bundlePath, "bundle", "", "Sigstore bundle (or cosign's legacy blob bundle)")
	f.StringVar(&o.signature, "signature", "", "detached signature: a file or the base64 value itself")
	f.StringVar(&o.certificate, "certificate", "", "keyless, with --signature: the signing certificate (PEM, or base64 PEM)")
	f.StringVar(&o.timestamp, "rfc3161-timestamp", "", "with --signature: the RFC 3161 timestamp over it, as sign-blob --rfc3161-timestamp writes it (cosign's JSON, or DER); it must verify (implies --use-signed-timestamps)")
	f.BoolVar(&o.newBundleFormat, "new-bundle-format", true, "accepted for cosign compatibility: the bundle's format is recognised")
	return cmd
}

func (a *app) verifyBlob(o *verifyBlobOptions, arg string) error {
	if o.bundlePath == "" && o.signature == "" {
		return fmt.Errorf("%w: give --bundle FILE, or --signature SIG", errUsage)
	}
	if o.timestamp != "" {
		// A timestamp given by hand must verify, not be skipped.
		o.auth.useSignedTimestamps = true
	}
	v, err := a.verifier(&o.auth)
	if err != nil {
		return err
	}
	blob, err := a.readBlobArg(arg)
	if err != nil {
		return err
	}
	r, src, err := a.verifyBlobInput(v, o, blob)
	var bad badInput
	if errors.As(err, &bad) {
		return fmt.Errorf("%s: %w", src, bad.err)
	}
	if err != nil {
		code := exitNoMatchingSig
		if errors.Is(err, verify.ErrNoCertificate) {
			code = exitNoCertificate
		}
		return withCode(code, fmt.Errorf("%s does not verify against %s: %w", arg, src, err))
	}
	if c := r.Certificate; c != nil {
		a.infof("Certificate identity verified: subject %q, issuer %q", c.Subject, c.Extensions.Issuer)
	}
	fmt.Fprintln(a.stderr, "Verified OK")
	return nil
}

// verifyBlobInput reads what the signature came in (a Sigstore bundle,
// cosign's legacy blob bundle, or a detached signature) and verifies it.
func (a *app) verifyBlobInput(v *verify.Verifier, o *verifyBlobOptions, blob verify.Blob) (*verify.Result, string, error) {
	d := verify.DetachedSignature{}
	src := "signature " + o.signature
	if o.bundlePath != "" {
		src = "bundle " + o.bundlePath
		raw, err := os.ReadFile(o.bundlePath)
		if err != nil {
			return nil, src, badInput{fmt.Errorf("reading bundle: %w", err)}
		}
		legacy, isLegacy, err := cosign.ParseLocalSignedPayload(raw)
		if err != nil {
			return nil, src, badInput{err}
		}
		if !isLegacy {
			if o.timestamp != "" {
				return nil, src, badInput{errors.New("--rfc3161-timestamp goes with --signature or a legacy bundle: a Sigstore bundle carries its own timestamps")}
			}
			b, err := cosign.ParseBundle(raw)
			if err != nil {
				return nil, src, badInput{err}
			}
			r, err := v.VerifyBlobBundle(b, blob)
			return r, src, err
		}
		if d.Signature, err = base64.StdEncoding.DecodeString(legacy.Base64Signature); err != nil {
			return nil, src, badInput{fmt.Errorf("base64Signature is not base64: %w", err)}
		}
		if legacy.RekorBundle != nil {
			rb, err := cosign.MarshalRekorBundle(legacy.RekorBundle)
			if err != nil {
				return nil, src, err
			}
			d.RekorBundle = rb
		}
		if legacy.Cert != "" {
			if d.Certificate, err = certificates([]byte(legacy.Cert)); err != nil {
				return nil, src, badInput{fmt.Errorf("cert: %w", err)}
			}
		}
	}
	if o.signature != "" {
		sig, err := readSignature(o.signature)
		if err != nil {
			return nil, src, badInput{err}
		}
		d.Signature = sig
	}
	if o.certificate != "" {
		data, err := os.ReadFile(o.certificate)
		if err != nil {
			return nil, src, badInput{fmt.Errorf("reading --certificate %s: %w", o.certificate, err)}
		}
		if d.Certificate, err = certificates(data); err != nil {
			return nil, src, badInput{fmt.Errorf("--certificate %s: %w", o.certificate, err)}
		}
	}
	if o.timestamp != "" {
		data, err := os.ReadFile(o.timestamp)
		if err != nil {
			return nil, src, badInput{fmt.Errorf("reading --rfc3161-timestamp %s: %w", o.timestamp, err)}
		}
		if d.RFC3161Timestamp, err = timestampFile(data); err != nil {
			return nil, src, badInput{fmt.Errorf("--rfc3161-timestamp %s: %w", o.timestamp, err)}
		}
	}
	r, err := v.VerifyBlobSignature(d, blob)
	return r, src, err
}

// timestampFile reads a timestamp file: cosign's JSON (base64 DER under
// SignedRFC3161Timestamp) or the DER TimeStampResp itself.
func timestampFile(data []byte) ([]byte, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var ts cosign.RFC3161Annotation
		if err := json.Unmarshal(t, &ts); err != nil {
			return nil, fmt.Errorf("not cosign's timestamp JSON: %w", err)
		}
		if len(ts.SignedRFC3161Timestamp) == 0 {
			return nil, errors.New("no SignedRFC3161Timestamp in it")
		}
		return ts.SignedRFC3161Timestamp, nil
	}
	if len(data) == 0 || data[0] != 0x30 {
		return nil, errors.New("neither cosign's timestamp JSON nor a DER timestamp response")
	}
	return data, nil
}

// badInput is an input that could not be read at all: exit 1 as any bad
// file, not "no signature verified".
type badInput struct{ err error }

func (b badInput) Error() string { return b.err.Error() }
func (b badInput) Unwrap() error { return b.err }

// readSignature reads --signature as cosign does: a file holding the base64
// or raw signature, or else the base64 value itself.
func readSignature(ref string) ([]byte, error) {
	data, err := os.ReadFile(ref)
	if errors.Is(err, fs.ErrNotExist) {
		data = []byte(ref)
	} else if err != nil {
		return nil, fmt.Errorf("reading --signature %s: %w", ref, err)
	}
	if sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data))); err == nil {
		return sig, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: --signature %s is neither a file nor base64", errUsage, ref)
	}
	return data, nil // a raw signature file
}

// certificates reads PEM certificates, or base64 of PEM (cosign writes both).
func certificates(data []byte) ([]*x509.Certificate, error) {
	if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data))); err == nil {
		data = dec
	}
	return cosign.ParseCertificatesPEM(data)
}

// readBlobArg reads FILE or standard input (-), or takes sha256:<hex>
// (sha384:, sha512:) as the artifact's digest. As in the conformance
// protocol, an argument that looks like a digest but names an existing file
// is the file.
func (a *app) readBlobArg(arg string) (verify.Blob, error) {
	if alg, h, ok := strings.Cut(arg, ":"); ok {
		size := map[string]int{"sha256": sha256.Size, "sha384": sha512.Size384, "sha512": sha512.Size}[alg]
		if _, statErr := os.Stat(arg); size > 0 && statErr != nil {
			d, err := hex.DecodeString(h)
			if err != nil || len(d) != size {
				return verify.Blob{}, fmt.Errorf("%w: %q is not %s: followed by %d hex digits", errUsage, arg, alg, 2*size)
			}
			return verify.BlobDigest(alg, d), nil
		}
	}
	data, err := a.readBlob(arg)
	if err != nil {
		return verify.Blob{}, err
	}
	return verify.BlobData(data), nil
}
