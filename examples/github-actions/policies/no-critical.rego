package signature

# The vulnerability report (cosign's vuln predicate, grype's JSON in
# scanner.result) lists no critical vulnerability.
default allow = false

allow {
	count(critical) == 0
}

critical[id] {
	m := input.predicate.scanner.result.matches[_]
	m.vulnerability.severity == "Critical"
	id := m.vulnerability.id
}

deny[msg] {
	critical[id]
	msg := sprintf("critical vulnerability %s", [id])
}
