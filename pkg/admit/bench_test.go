package admit_test

import (
	"context"
	"fmt"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/pkg/admit"
)

// BenchmarkDecideWarm: a pod of 1 and of 8 containers of one verified
// image, answered from the cache (the webhook's steady state).
func BenchmarkDecideWarm(b *testing.B) {
	reg := hallmarktest.EmbeddedRegistry(b, "")
	d := hallmarktest.PushImage(b, reg.Host, "app:v1", "good")
	s := newSignerTB(b)
	s.signTB(b, d)
	e := engineTB(b, cipKey("release", reg.Host+"/app*", s))
	for _, n := range []int{1, 8} {
		var r admit.Request
		r.Namespace, r.Kind = "default", "Pod"
		for i := range n {
			r.Images = append(r.Images, admit.Image{Path: fmt.Sprintf("/spec/containers/%d/image", i), Ref: d.String()})
		}
		if !e.Decide(context.Background(), r).Allowed {
			b.Fatal("denied")
		}
		b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !e.Decide(context.Background(), r).Allowed {
					b.Fatal("denied")
				}
			}
		})
	}
}
