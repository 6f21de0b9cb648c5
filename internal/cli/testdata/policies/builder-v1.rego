package signature

# Rego v1 syntax: the same rule, for another builder (denies the test provenance).
default allow := false

allow if {
	input.predicate.runDetails.builder.id == "https://github.com/acme/other/.github/workflows/release.yml@refs/heads/main"
}

deny contains msg if {
	not allow
	msg := sprintf("builder %s is not the release workflow", [input.predicate.runDetails.builder.id])
}
