package tlog

import (
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// maxProofHashes caps a proof's length: a tree of 2^64 leaves needs 64.
const maxProofHashes = 64

// LeafHash is the RFC 6962 leaf hash of an entry body; hex-encoded it is the
// entry's UUID in Rekor's API.
func LeafHash(body []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(body) }

// VerifyInclusion checks that body is leaf index of the tree of size whose
// root is root.
func VerifyInclusion(body []byte, index, size uint64, hashes [][]byte, root []byte) error {
	if len(hashes) > maxProofHashes {
		return fmt.Errorf("%w: %d hashes", ErrInclusion, len(hashes))
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, LeafHash(body), hashes, root); err != nil {
		return fmt.Errorf("%w: %v", ErrInclusion, err)
	}
	return nil
}

// VerifyConsistency checks that the tree of size2 with root2 extends the tree
// of size1 with root1.
func VerifyConsistency(size1, size2 uint64, hashes [][]byte, root1, root2 []byte) error {
	if len(hashes) > 2*maxProofHashes {
		return fmt.Errorf("%w: %d hashes", ErrConsistency, len(hashes))
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, size1, size2, hashes, root1, root2); err != nil {
		return fmt.Errorf("%w: %v", ErrConsistency, err)
	}
	return nil
}
