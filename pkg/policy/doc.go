// Package policy owns judging verified in-toto statements with the
// policies people already write for cosign: Rego (OPA; package signature,
// rule allow, the statement as input, cosign's v0 syntax or Rego v1) and CUE
// (the statement unified with the policy). Each policy is compiled once and
// evaluated per statement; a denial names the file, the rule and its
// messages, and a policy that fails to evaluate is an error, never an allow.
package policy
