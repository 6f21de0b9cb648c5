package attest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// GitHubBuildType is GitHub's SLSA v1 build type for Actions workflows.
const GitHubBuildType = "https://actions.github.io/buildtypes/workflow/v1"

// LocalBuildType names a build run outside CI.
const LocalBuildType = "https://hallmark.dev/buildtypes/local/v1"

// Provenance returns a SLSA v1 provenance predicate for the current build,
// read from the environment (getenv): a GitHub Actions workflow when
// GITHUB_ACTIONS is true, otherwise a local build on host in dir, at the git
// commit given (if any).
func Provenance(getenv func(string) string, host, dir, gitURL, gitCommit string, now time.Time) ([]byte, error) {
	type digestSet map[string]string
	type dep struct {
		URI    string    `json:"uri"`
		Digest digestSet `json:"digest,omitempty"`
	}
	var p struct {
		BuildDefinition struct {
			BuildType            string         `json:"buildType"`
			ExternalParameters   map[string]any `json:"externalParameters"`
			InternalParameters   map[string]any `json:"internalParameters,omitempty"`
			ResolvedDependencies []dep          `json:"resolvedDependencies,omitempty"`
		} `json:"buildDefinition"`
		RunDetails struct {
			Builder struct {
				ID string `json:"id"`
			} `json:"builder"`
			Metadata struct {
				InvocationID string `json:"invocationId,omitempty"`
				StartedOn    string `json:"startedOn,omitempty"`
			} `json:"metadata"`
		} `json:"runDetails"`
	}
	bd, rd := &p.BuildDefinition, &p.RunDetails
	rd.Metadata.StartedOn = now.UTC().Format(time.RFC3339)
	if getenv("GITHUB_ACTIONS") == "true" {
		server := strings.TrimSuffix(getenv("GITHUB_SERVER_URL"), "/")
		if server == "" {
			server = "https://github.com"
		}
		repo, wref, sha, ref := getenv("GITHUB_REPOSITORY"), getenv("GITHUB_WORKFLOW_REF"), getenv("GITHUB_SHA"), getenv("GITHUB_REF")
		for name, v := range map[string]string{"GITHUB_REPOSITORY": repo, "GITHUB_WORKFLOW_REF": wref, "GITHUB_SHA": sha} {
			if v == "" {
				return nil, fmt.Errorf("GITHUB_ACTIONS is true but %s is not set", name)
			}
		}
		path, wfRef, _ := strings.Cut(strings.TrimPrefix(wref, repo+"/"), "@")
		bd.BuildType = GitHubBuildType
		bd.ExternalParameters = map[string]any{"workflow": map[string]string{"ref": wfRef, "repository": server + "/" + repo, "path": path}}
		gh := map[string]string{}
		for k, env := range map[string]string{"event_name": "GITHUB_EVENT_NAME", "repository_id": "GITHUB_REPOSITORY_ID",
			"repository_owner_id": "GITHUB_REPOSITORY_OWNER_ID", "runner_environment": "RUNNER_ENVIRONMENT"} {
			if v := getenv(env); v != "" {
				gh[k] = v
			}
		}
		bd.InternalParameters = map[string]any{"github": gh}
		bd.ResolvedDependencies = []dep{{URI: "git+" + server + "/" + repo + "@" + ref, Digest: digestSet{"gitCommit": sha}}}
		rd.Builder.ID = server + "/" + wref
		if run := getenv("GITHUB_RUN_ID"); run != "" {
			attempt := getenv("GITHUB_RUN_ATTEMPT")
			if attempt == "" {
				attempt = "1"
			}
			rd.Metadata.InvocationID = server + "/" + repo + "/actions/runs/" + run + "/attempts/" + attempt
		}
	} else {
		bd.BuildType = LocalBuildType
		bd.ExternalParameters = map[string]any{"directory": dir}
		if gitURL != "" && gitCommit != "" {
			bd.ResolvedDependencies = []dep{{URI: "git+" + gitURL, Digest: digestSet{"gitCommit": gitCommit}}}
		}
		rd.Builder.ID = "https://hallmark.dev/builders/local/" + host
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if _, _, err := Predicate("slsaprovenance1", b, now); err != nil {
		return nil, fmt.Errorf("the provenance made does not check: %w", err)
	}
	return b, nil
}
