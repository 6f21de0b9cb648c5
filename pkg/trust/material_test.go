package trust_test

import (
	"strings"
	"testing"
	"time"

	"hallmark.dev/hallmark/internal/hallmarktest/sigstoretest"
	"hallmark.dev/hallmark/pkg/trust"
)

func TestFromTrustedRoot(t *testing.T) {
	s := sigstoretest.New(t)
	m := s.Material(t)
	if len(m.Logs) != 1 || len(m.CTLogs) != 1 || len(m.CAs) != 1 || len(m.TSAs) != 1 {
		t.Fatalf("material: %+v", m)
	}
	if ca := m.CAs[0]; !ca.Root.Equal(s.Root) || len(ca.Intermediates) != 1 || !ca.Intermediates[0].Equal(s.Intermediate) {
		t.Error("CA chain: the last certificate is the root, the others intermediates")
	}
	if tsa := m.TSAs[0]; tsa.Leaf == nil || !tsa.Leaf.Equal(s.TSALeaf) || !tsa.Root.Equal(s.TSARoot) {
		t.Error("TSA chain: the first certificate is the signer, the last the root")
	}
	if m.FindLog(m.Logs[0].ID) == nil || m.FindCTLog(m.CTLogs[0].ID) == nil || m.FindLog([]byte("no such log")) != nil {
		t.Error("finding logs by ID")
	}
	// A log key without a validity start is refused: nothing could say
	// which entries it may vouch for.
	tr := s.TrustedRoot(t)
	tr.Tlogs[0].PublicKey.ValidFor.Start = nil
	if _, err := trust.FromTrustedRoot(tr); err == nil || !strings.Contains(err.Error(), "validFor.start") {
		t.Errorf("log key without a start: %v", err)
	}
	tr = s.TrustedRoot(t)
	tr.CertificateAuthorities[0].CertChain.Certificates[0].RawBytes = []byte("junk")
	if _, err := trust.FromTrustedRoot(tr); err == nil {
		t.Error("a CA certificate that does not parse was accepted")
	}
}

func TestWindow(t *testing.T) {
	start, end := time.Unix(1000, 0), time.Unix(2000, 0)
	w := trust.Window{Start: start, End: end}
	for at, want := range map[time.Time]bool{start: true, end: true, start.Add(-time.Second): false, end.Add(time.Second): false} {
		if w.Contains(at) != want {
			t.Errorf("%v in %s: want %v", at, w, want)
		}
	}
	if !(trust.Window{}).Contains(time.Now()) || (trust.Window{}).Bounded() {
		t.Error("the zero window is open on both sides")
	}
}
