package verify_test

import (
	"encoding/binary"
	"testing"
	"time"
	"unicode/utf8"

	sgca "github.com/sigstore/sigstore-go/pkg/testing/ca"

	"hallmark.dev/hallmark/pkg/cosign"
)

// FuzzDifferential mutates one field of a valid keyless bundle (a byte of a
// signature, certificate, SET, body, proof, checkpoint or timestamp, or a
// number) and holds Hallmark to sigstore-go v1.3.0 on the result: Hallmark
// never accepts what sigstore-go refuses.
//
// The other direction is not a property: Hallmark is deliberately stricter in
// a few places (a log entry's kindVersion must match its body; the signing
// certificate must list the code-signing EKU; see docs/architecture.md).
func FuzzDifferential(f *testing.F) {
	vs, err := sgca.NewVirtualSigstore()
	if err != nil {
		f.Fatal(err)
	}
	const id, iss = "dev@virtual.test", "https://issuer.virtual.test"
	artifact := []byte("differential artifact")
	statement := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + sha256hex(artifact) + `"}}],"predicateType":"https://example.test/p","predicate":{}}`)
	msg, err := vs.Sign(id, iss, artifact)
	if err != nil {
		f.Fatal(err)
	}
	dsse, err := vs.AttestAtTime(id, iss, statement, time.Now().Add(5*time.Minute), true)
	if err != nil {
		f.Fatal(err)
	}
	v2, err := vs.AttestHashedRekordV2(id, iss, statement)
	if err != nil {
		f.Fatal(err)
	}
	bases := []*cosign.Bundle{entityBundle(f, vs, msg), entityBundle(f, vs, dsse), entityBundle(f, vs, v2)}
	rootJSON := virtualRoot(f, vs, nil)
	for b := range bases {
		for field := range 12 {
			f.Add(uint8(b), uint8(field), uint16(0), uint8(1))
		}
	}
	f.Fuzz(func(t *testing.T, which, field uint8, pos uint16, xor uint8) {
		b := cloneBundle(bases[int(which)%len(bases)])
		if !mutateField(b, field, int(pos), xor) {
			return
		}
		raw := mustJSON(t, b)
		hm := hallmark(raw, rootJSON, artifact, id, iss, oracleOpts{})
		if hm != nil {
			return
		}
		if sg := sigstoreGo(raw, rootJSON, artifact, id, iss, oracleOpts{}); sg != nil {
			t.Fatalf("Hallmark accepted a bundle sigstore-go refuses (%v):\n%s", sg, raw)
		}
	})
}

// mutateField changes one field of b; false when b has no such field.
func mutateField(b *cosign.Bundle, field uint8, pos int, xor uint8) bool {
	if xor == 0 {
		xor = 1
	}
	flip := func(p []byte) bool {
		if len(p) == 0 {
			return false
		}
		p[pos%len(p)] ^= xor
		return true
	}
	vm := b.GetVerificationMaterial()
	var tle = vm.GetTlogEntries()[0]
	switch field % 12 {
	case 0:
		if ms := b.GetMessageSignature(); ms != nil {
			return flip(ms.Signature)
		}
		return flip(b.GetDsseEnvelope().GetSignatures()[0].Sig)
	case 1:
		if ms := b.GetMessageSignature(); ms != nil {
			return flip(ms.GetMessageDigest().Digest)
		}
		return flip(b.GetDsseEnvelope().Payload)
	case 2:
		if c := vm.GetCertificate(); c != nil {
			return flip(c.RawBytes)
		}
		return flip(vm.GetX509CertificateChain().GetCertificates()[0].RawBytes)
	case 3:
		return flip(tle.CanonicalizedBody)
	case 4:
		return tle.GetInclusionPromise() != nil && flip(tle.InclusionPromise.SignedEntryTimestamp)
	case 5:
		tle.IntegratedTime += int64(int8(xor))
		return true
	case 6:
		tle.LogIndex = int64(binary.BigEndian.Uint16([]byte{byte(pos >> 8), byte(pos)}))
		return true
	case 7:
		p := tle.GetInclusionProof()
		return p != nil && flip(p.RootHash)
	case 8:
		p := tle.GetInclusionProof()
		if p == nil || len(p.Hashes) == 0 {
			return false
		}
		return flip(p.Hashes[pos%len(p.Hashes)])
	case 9:
		p := tle.GetInclusionProof()
		if p == nil {
			return false
		}
		env := []byte(p.Checkpoint.Envelope)
		ok := flip(env) && utf8.Valid(env) // a proto string must be UTF-8
		p.Checkpoint.Envelope = string(env)
		return ok
	case 10:
		ts := vm.GetTimestampVerificationData().GetRfc3161Timestamps()
		return len(ts) > 0 && flip(ts[0].SignedTimestamp)
	case 11:
		tle.LogId.KeyId = append([]byte{}, tle.LogId.KeyId...)
		return flip(tle.LogId.KeyId)
	}
	return false
}
