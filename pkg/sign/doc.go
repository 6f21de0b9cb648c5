// Package sign owns producing signatures: the payload for an image (bundle or
// legacy format) or a blob, the signature over it, and storing it next to the
// image. Every signature is checked with pkg/verify before it is stored, so a
// broken key or encoder never publishes a signature that cannot verify.
package sign
