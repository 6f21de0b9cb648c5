// Package rekor owns Rekor's wire formats: proposed entries (hashedrekord
// 0.0.1, dsse 0.0.1), their validation and canonical bodies (the leaves of
// the log), the search keys an entry is indexed under, and the v1 API's
// LogEntry JSON and its conversion to a bundle's TransparencyLogEntry.
//
// A body is accepted only when its signature verifies over what it claims to
// sign: the log never records an entry that does not check out.
package rekor
