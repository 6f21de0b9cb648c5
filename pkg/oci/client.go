package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Client reads and writes images and signatures in registries.
type Client struct {
	nameOpts  []name.Option
	transport http.RoundTripper
	sigRepo   *name.Repository
	userAgent string
	keychain  authn.Keychain
}

// Option configures a Client.
type Option func(*Client) error

// WithInsecure allows plain-HTTP and self-signed registries (cosign's
// --allow-insecure-registry). Loopback registries are always reached over
// plain HTTP when they do not speak TLS.
func WithInsecure() Option {
	return func(c *Client) error { c.nameOpts = append(c.nameOpts, name.Insecure); return nil }
}

// WithTransport sets the HTTP transport (tests, proxies, custom TLS).
func WithTransport(rt http.RoundTripper) Option {
	return func(c *Client) error { c.transport = rt; return nil }
}

// WithAuthenticator uses auth for every registry (cosign's
// --registry-username/--registry-password or --registry-token) instead of
// the Docker credential keychain.
func WithAuthenticator(auth authn.Authenticator) Option {
	return func(c *Client) error { c.keychain = staticKeychain{auth}; return nil }
}

// WithKeychain resolves registry credentials with kc (admission: the pod's
// image pull secrets) instead of the Docker credential keychain.
func WithKeychain(kc authn.Keychain) Option {
	return func(c *Client) error { c.keychain = kc; return nil }
}

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }

// WithSignatureRepository stores and reads signatures in repo instead of the
// image's own repository (cosign's COSIGN_REPOSITORY).
func WithSignatureRepository(repo string) Option {
	return func(c *Client) error {
		if repo == "" {
			return nil
		}
		r, err := name.NewRepository(repo, c.nameOpts...)
		if err != nil {
			return fmt.Errorf("signature repository %q: %w", repo, err)
		}
		c.sigRepo = &r
		return nil
	}
}

// New returns a Client. Options apply in order, so WithInsecure must come
// before WithSignatureRepository for an insecure signature repository.
func New(opts ...Option) (*Client, error) {
	c := &Client{userAgent: "hallmark", keychain: authn.DefaultKeychain}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.transport == nil {
		t := remote.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = 30 * time.Second
		c.transport = t
	}
	return c, nil
}

// ParseReference parses an image reference (tag or digest).
func (c *Client) ParseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s, append([]name.Option{name.StrictValidation}, c.nameOpts...)...)
	if err != nil {
		// StrictValidation refuses implicit "latest"; accept it as cosign does.
		ref, err = name.ParseReference(s, c.nameOpts...)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	return ref, nil
}

func (c *Client) remoteOpts(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(c.transport),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithUserAgent(c.userAgent),
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 3}),
	}
}

// SignatureRepository is where signatures for ref are stored.
func (c *Client) SignatureRepository(ref name.Reference) name.Repository {
	if c.sigRepo != nil {
		return *c.sigRepo
	}
	return ref.Context()
}

// Resolve returns the digest reference and descriptor of ref. A missing tag
// or manifest wraps ErrNotFound; any other failure is a *RegistryError.
func (c *Client) Resolve(ctx context.Context, ref name.Reference) (name.Digest, *v1.Descriptor, error) {
	desc, err := remote.Head(ref, c.remoteOpts(ctx)...)
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusMethodNotAllowed || terr.StatusCode == http.StatusNotImplemented) {
		// Some registries do not answer HEAD for manifests; GET is the truth.
		var d *remote.Descriptor
		if d, err = remote.Get(ref, c.remoteOpts(ctx)...); err == nil {
			desc = &d.Descriptor
		}
	}
	if err != nil {
		return name.Digest{}, nil, classify(ref.Context().RegistryStr(), "resolving "+ref.String(), err)
	}
	return ref.Context().Digest(desc.Digest.String()), desc, nil
}

// Children returns the digests of the manifests an index lists (for
// recursive signing); for an image it returns nil.
func (c *Client) Children(ctx context.Context, d name.Digest) ([]name.Digest, error) {
	desc, err := remote.Get(d, c.remoteOpts(ctx)...)
	if err != nil {
		return nil, classify(d.RegistryStr(), "reading "+d.String(), err)
	}
	if !desc.MediaType.IsIndex() {
		return nil, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", d, err)
	}
	var out []name.Digest
	for _, m := range im.Manifests {
		if m.MediaType.IsImage() || m.MediaType.IsIndex() {
			out = append(out, d.Context().Digest(m.Digest.String()))
		}
	}
	return out, nil
}

// IsNotFound reports whether err means "nothing there".
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
