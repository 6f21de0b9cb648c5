#!/usr/bin/env bash
# The release job's provenance steps (run by release.yml, and by Hallmark's tests
# against hallmark serve): keyless sign by digest, attest the SBOM, the
# vulnerability report and the build's SLSA provenance, then verify it all as a
# deployer would: the signer is this workflow, and no critical vulnerability.
#
#   IMAGE   the image, by digest          SBOM  a CycloneDX JSON SBOM
#   VULN    cosign's vuln predicate       HALLMARK_SIGNING_CONFIG / HALLMARK_TRUSTED_ROOT  (a private stack)
#   HALLMARK_OIDC_ISSUER  the token issuer (default GitHub's)
set -euo pipefail
: "${IMAGE:?set IMAGE to the image by digest}" "${SBOM:?set SBOM}" "${VULN:?set VULN}"
: "${GITHUB_WORKFLOW_REF:?run in GitHub Actions (or with its variables)}"
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

sign=()
[ -n "${HALLMARK_SIGNING_CONFIG:-}" ] && sign+=(--signing-config "$HALLMARK_SIGNING_CONFIG")
trust=()
[ -n "${HALLMARK_TRUSTED_ROOT:-}" ] && trust+=(--trusted-root "$HALLMARK_TRUSTED_ROOT")

hallmark sign "${sign[@]}" "${trust[@]}" "$IMAGE"
hallmark attest "${sign[@]}" "${trust[@]}" --type cyclonedx --predicate "$SBOM" "$IMAGE"
hallmark attest "${sign[@]}" "${trust[@]}" --type vuln --predicate "$VULN" "$IMAGE"
hallmark provenance --out "$out/provenance.json"
hallmark attest "${sign[@]}" "${trust[@]}" --type slsaprovenance1 --predicate "$out/provenance.json" "$IMAGE"

# As a deployer: signed by this workflow of this repository at this commit.
who=(--certificate-identity "${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_WORKFLOW_REF"
	--certificate-oidc-issuer "${HALLMARK_OIDC_ISSUER:-https://token.actions.githubusercontent.com}"
	--certificate-github-workflow-repository "$GITHUB_REPOSITORY" --certificate-github-workflow-sha "$GITHUB_SHA")
hallmark verify "${trust[@]}" "${who[@]}" "$IMAGE" >/dev/null
hallmark verify-attestation "${trust[@]}" "${who[@]}" --type cyclonedx "$IMAGE" >/dev/null
hallmark verify-attestation "${trust[@]}" "${who[@]}" --type vuln --policy "$here/policies/no-critical.rego" "$IMAGE" >/dev/null
hallmark verify-attestation "${trust[@]}" "${who[@]}" --type slsaprovenance1 --policy "$here/policies/github-builder.rego" "$IMAGE" >/dev/null
echo "Signed, attested and verified $IMAGE"
