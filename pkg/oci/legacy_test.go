package oci_test

import (
	"fmt"
	"sync"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/oci"
)

// TestConcurrentLegacySigners: eight signers appending to one .sig tag at
// once each either see their signature stored or get an error; every one
// that reported success is in the tag at the end (cosign loses some).
func TestConcurrentLegacySigners(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	d := hallmarktest.PushImage(t, reg.Host, "busy:v1", "busy")
	c, _ := oci.New()
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := fmt.Appendf(nil, `{"critical":{"n":%d}}`, i)
			errs[i] = c.AppendLegacySignature(t.Context(), d, payload, map[string]string{cosign.SignatureAnnotation: fmt.Sprint("sig", i)})
		}()
	}
	wg.Wait()
	sigs, err := c.LegacySignatures(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, s := range sigs {
		stored[s.Annotations[cosign.SignatureAnnotation]] = true
	}
	for i, err := range errs {
		if err == nil && !stored[fmt.Sprint("sig", i)] {
			t.Errorf("signer %d was told its signature was stored; the tag does not hold it", i)
		}
	}
	if len(sigs) != n {
		t.Errorf("%d of %d signatures stored (errors: %v)", len(sigs), n, errs)
	}
}
