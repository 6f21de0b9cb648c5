package signature

# cosign's Rego v0 syntax: SLSA v1 provenance from the release workflow.
allow {
	input.predicateType == "https://slsa.dev/provenance/v1"
	input.predicate.runDetails.builder.id == "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
}
