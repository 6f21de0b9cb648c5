package signature

# SLSA v1 provenance of a GitHub Actions workflow build.
default allow = false

allow {
	input.predicateType == "https://slsa.dev/provenance/v1"
	input.predicate.buildDefinition.buildType == "https://actions.github.io/buildtypes/workflow/v1"
	startswith(input.predicate.runDetails.builder.id, "https://github.com/")
	contains(input.predicate.runDetails.builder.id, "/.github/workflows/")
}

deny[msg] {
	not allow
	msg := sprintf("builder %v is not a GitHub Actions workflow", [input.predicate.runDetails.builder.id])
}
