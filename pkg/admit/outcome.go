package admit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"hallmark.dev/hallmark/pkg/check"
	"hallmark.dev/hallmark/pkg/oci"
)

// outcome is what one authority says about one image digest.
type outcome struct {
	// Pass: the authority is satisfied.
	Pass bool
	// Undecided: no verdict — the registry failed or the verification ran
	// out of time. Never cached, never "unsigned".
	Undecided bool
	// Reason says why it did not pass: the check, what it wanted and what
	// it found.
	Reason string
	// Signer names who signed, for a pass (key fingerprint or identity).
	Signer string
	// Match is what a pass found, as a ClusterImagePolicy's spec.policy
	// reads it.
	Match *authorityMatch
}

// authorityMatch is policy-controller's record of an authority that
// passed: the signatures and attestations that verified.
type authorityMatch struct {
	Signatures   []matchSignature              `json:"signatures"`
	Attestations map[string][]matchAttestation `json:"attestations"`
	Static       bool                          `json:"static"`
}

type matchSignature struct {
	ID                    string `json:"id,omitempty"`
	Subject               string `json:"subject,omitempty"`
	Issuer                string `json:"issuer,omitempty"`
	GithubWorkflowTrigger string `json:"githubWorkflowTrigger,omitempty"`
	GithubWorkflowSHA     string `json:"githubWorkflowSha,omitempty"`
	GithubWorkflowName    string `json:"githubWorkflowName,omitempty"`
	GithubWorkflowRepo    string `json:"githubWorkflowRepo,omitempty"`
	GithubWorkflowRef     string `json:"githubWorkflowRef,omitempty"`
}

type matchAttestation struct {
	matchSignature
	PredicateType string `json:"predicateType"`
	Digest        string `json:"digest"`
}

// classify turns a verification error into an outcome: registry failures
// and deadlines are undecided and say so; everything else is a verdict.
func classify(err error, registry string) outcome {
	var re *oci.RegistryError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return outcome{Undecided: true, Reason: fmt.Sprintf("verification did not finish in time (registry %s slow)", registry)}
	case errors.As(err, &re):
		return outcome{Undecided: true, Reason: registryReason(re)}
	case errors.Is(err, check.ErrNoSuchImage):
		return outcome{Reason: "image not found in the registry: " + err.Error()}
	}
	var none *check.NoSignaturesError
	if errors.As(err, &none) {
		return outcome{Reason: fmt.Sprintf("no signatures found: want a signature (bundle referrer or %s), got none", none.LegacyTag.TagStr())}
	}
	var noAtt *check.NoAttestationsError
	if errors.As(err, &noAtt) {
		return outcome{Reason: "no attestations found: " + err.Error()}
	}
	return outcome{Reason: oneLine(err.Error())}
}

func registryReason(re *oci.RegistryError) string {
	switch {
	case re.Status == http.StatusTooManyRequests:
		return fmt.Sprintf("registry %s is throttling (429 Too Many Requests) while %s: not a verdict on the signature", re.Registry, re.Op)
	case re.Status == 0:
		return fmt.Sprintf("registry %s unreachable while %s: %v", re.Registry, re.Op, re.Err)
	default:
		return fmt.Sprintf("registry %s failed (%d %s) while %s", re.Registry, re.Status, http.StatusText(re.Status), re.Op)
	}
}

// oneLine folds a multi-line error (a candidate list) into one line.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, ":\n  - ", ": ")
	s = strings.ReplaceAll(s, "\n  - ", "; ")
	return strings.ReplaceAll(s, "\n", "; ")
}

// identities are who satisfied a passing authority: each verified
// certificate's subject and issuer, or the key.
func (o outcome) identities() []string {
	var ids []string
	if m := o.Match; m != nil {
		if m.Static {
			return []string{"static " + o.Signer}
		}
		for _, s := range m.Signatures {
			if s.Subject != "" {
				ids = append(ids, s.Subject+" ("+s.Issuer+")")
			}
		}
		for _, atts := range m.Attestations {
			for _, a := range atts {
				if a.Subject != "" {
					ids = append(ids, a.Subject+" ("+a.Issuer+")")
				}
			}
		}
	}
	if len(ids) == 0 {
		ids = []string{o.Signer} // a key
	}
	return ids
}
