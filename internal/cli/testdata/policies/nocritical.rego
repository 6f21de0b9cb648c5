package signature

# No critical vulnerability in the scanner's report.
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
