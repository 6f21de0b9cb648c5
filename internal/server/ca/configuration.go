package ca

import (
	"sort"

	"hallmark.dev/hallmark/pkg/ca"
)

// issuerJSON is one entry of Fulcio's GET /api/v2/configuration.
type issuerJSON struct {
	IssuerURL             string `json:"issuerUrl,omitempty"`
	WildcardIssuerURL     string `json:"wildcardIssuerUrl,omitempty"`
	Audience              string `json:"audience"`
	ChallengeClaim        string `json:"challengeClaim"`
	SPIFFETrustDomain     string `json:"spiffeTrustDomain"`
	IssuerType            string `json:"issuerType"`
	SubjectDomain         string `json:"subjectDomain"`
	SkipEmailVerification bool   `json:"skipEmailVerification"`
}

func configuration(cfg *ca.Config) []issuerJSON {
	var out []issuerJSON
	add := func(url string, wildcard bool, iss ca.Issuer) {
		j := issuerJSON{Audience: iss.ClientID, ChallengeClaim: iss.ChallengeClaim, SPIFFETrustDomain: iss.SPIFFETrustDomain,
			IssuerType: string(iss.Type), SubjectDomain: iss.SubjectDomain, SkipEmailVerification: iss.SkipEmailVerification}
		if j.ChallengeClaim == "" {
			j.ChallengeClaim = "sub"
			if iss.Type == ca.TypeEmail {
				j.ChallengeClaim = "email"
			}
		}
		if wildcard {
			j.WildcardIssuerURL = url
		} else {
			j.IssuerURL = url
		}
		out = append(out, j)
	}
	for _, u := range sortedKeys(cfg.OIDCIssuers) {
		add(u, false, cfg.OIDCIssuers[u])
	}
	for _, u := range sortedKeys(cfg.MetaIssuers) {
		add(u, true, cfg.MetaIssuers[u])
	}
	return out
}

func sortedKeys(m map[string]ca.Issuer) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
