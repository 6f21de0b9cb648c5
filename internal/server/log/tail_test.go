package log

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
)

// refNode hashes node id of the reference tree from its leaves.
func refNode(ref *testonly.Tree, id compact.NodeID) []byte {
	if id.Level == 0 {
		return ref.LeafHash(id.Index)
	}
	return rfc6962.DefaultHasher.HashChildren(refNode(ref, compact.NewNodeID(id.Level-1, 2*id.Index)),
		refNode(ref, compact.NewNodeID(id.Level-1, 2*id.Index+1)))
}

// A tail, started anywhere in a tree and appended to and released in
// batches of any size, gives the roots, inclusion proofs and consistency
// proofs of the reference tree (transparency-dev/merkle's), with nodes
// below its base read from "tiles" (here, the reference tree).
func TestTailMatchesReferenceTree(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	belowReads := 0
	for round := range 40 {
		total := uint64(1 + r.IntN(700))
		ref := testonly.New(rfc6962.DefaultHasher)
		for i := range total {
			ref.AppendData(fmt.Appendf(nil, "entry %d", i))
		}
		base := uint64(r.IntN(int(total)))
		start := rangeFactory.NewEmptyRange(0)
		for i := range base {
			_ = start.Append(ref.LeafHash(i), nil)
		}
		tl, err := newTail(base, start.Hashes())
		if err != nil {
			t.Fatal(err)
		}
		for next := base; next < total; {
			// A view taken now still answers after the appends and
			// releases below (which must not write into what it holds).
			before := tl.view()
			n := min(total-next, uint64(1+r.IntN(50)))
			leaves, bodies := make([][]byte, n), make([][]byte, n)
			for k := range n {
				leaves[k], bodies[k] = ref.LeafHash(next+k), fmt.Appendf(nil, "entry %d", next+k)
			}
			if err := tl.append(next, leaves, bodies); err != nil {
				t.Fatal(err)
			}
			next += n
			if r.IntN(3) == 0 { // Tessera integrated part of it
				tl.release(tl.base + uint64(r.IntN(int(next-tl.base)+1)))
			}
			if before.size > 0 {
				below := func(id compact.NodeID) ([]byte, error) { return refNode(ref, id), nil }
				i := uint64(r.IntN(int(before.size)))
				nodes, _ := proof.Inclusion(i, before.size)
				got, err := before.proofNodes(before.size, nodes, below)
				if want, _ := ref.InclusionProof(i, before.size); err != nil || !equalHashes(got, want) {
					t.Fatalf("round %d: an earlier view's inclusion proof of %d in %d changed (%v)", round, i, before.size, err)
				}
				for k := before.base; k < before.size; k++ {
					if b, _ := before.body(k); string(b) != fmt.Sprintf("entry %d", k) {
						t.Fatalf("round %d: an earlier view's body of %d changed to %q", round, k, b)
					}
				}
			}
			func(v view) {
				below := func(id compact.NodeID) ([]byte, error) {
					if _, end := id.Coverage(); end > v.base {
						t.Fatalf("round %d: node %d/%d read from below base %d", round, id.Level, id.Index, v.base)
					}
					belowReads++
					return refNode(ref, id), nil
				}
				size := v.size
				for _, sz := range []uint64{size, v.base + uint64(r.IntN(int(size-v.base)+1)), uint64(r.IntN(int(size) + 1))} {
					root, err := v.rootAt(sz, below)
					if err != nil {
						t.Fatalf("round %d: root at %d: %v", round, sz, err)
					}
					if want := ref.HashAt(sz); !bytes.Equal(root, want) {
						t.Fatalf("round %d: root at %d (base %d, size %d) differs from the reference", round, sz, v.base, size)
					}
				}
				i := uint64(r.IntN(int(size)))
				nodes, _ := proof.Inclusion(i, size)
				got, err := v.proofNodes(size, nodes, below)
				if err != nil {
					t.Fatalf("round %d: inclusion of %d in %d: %v", round, i, size, err)
				}
				if want, _ := ref.InclusionProof(i, size); !equalHashes(got, want) {
					t.Fatalf("round %d: inclusion proof of %d in %d (base %d) differs from the reference", round, i, size, v.base)
				}
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, size, ref.LeafHash(i), got, ref.HashAt(size)); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if small := uint64(1 + r.IntN(int(size))); small < size {
					nodes, _ := proof.Consistency(small, size)
					got, err := v.proofNodes(size, nodes, below)
					if err != nil {
						t.Fatalf("round %d: consistency %d to %d: %v", round, small, size, err)
					}
					if want, _ := ref.ConsistencyProof(small, size); !equalHashes(got, want) {
						t.Fatalf("round %d: consistency proof %d to %d (base %d) differs from the reference", round, small, size, v.base)
					}
				}
				for k := v.base; k < size; k++ {
					if b, ok := v.body(k); !ok || string(b) != fmt.Sprintf("entry %d", k) {
						t.Fatalf("round %d: body of %d: %q, %v", round, k, b, ok)
					}
				}
				if _, ok := v.body(size); ok {
					t.Fatalf("round %d: a body beyond the tree", round)
				}

			}(tl.view())
		}
	}
	if belowReads == 0 {
		t.Fatal("no node was read from below the tail: the test did not reach the tiles")
	}
}

func equalHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// Entries must come in index order; a tree beyond what was acknowledged
// has no root, and nodes not yet complete are refused, never guessed.
func TestTailRefusesWhatItDoesNotHold(t *testing.T) {
	tl, err := newTail(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.append(1, [][]byte{make([]byte, 32)}, [][]byte{nil}); err == nil {
		t.Fatal("append at 1 to an empty tail: no error")
	}
	leaf := rfc6962.DefaultHasher.HashLeaf([]byte("a"))
	if err := tl.append(0, [][]byte{leaf, leaf, leaf}, [][]byte{nil, nil, nil}); err != nil {
		t.Fatal(err)
	}
	func(v view) {
		none := func(compact.NodeID) ([]byte, error) { t.Fatal("read below an empty base"); return nil, nil }
		if _, err := v.rootAt(4, none); err == nil {
			t.Error("root of 4 entries in a tree of 3: no error")
		}
		if _, err := v.nodeAt(compact.NewNodeID(2, 0), none); err == nil {
			t.Error("node 2/0 (4 leaves) in a tree of 3: no error")
		}

	}(tl.view())
}
