package imagepolicy

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// Unreadable is what a policy document that failed to load with loadErr
// still says — its kind, name and image patterns, read leniently — as
// policies marked Invalid, so that a server can deny what it was meant to
// guard instead of letting those images fall to looser policies. It is nil
// when not even the patterns can be read.
func Unreadable(doc []byte, loadErr error) []*Policy {
	var d struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name, Namespace string
		} `json:"metadata"`
		Spec struct {
			Mode                    string `json:"mode"`
			ValidationFailureAction string `json:"validationFailureAction"`
			Images                  []struct {
				Glob string `json:"glob"`
			} `json:"images"`
			Rules []struct {
				Name         string `json:"name"`
				VerifyImages []struct {
					ImageReferences []string `json:"imageReferences"`
					Image           string   `json:"image"`
					FailureAction   string   `json:"failureAction"`
				} `json:"verifyImages"`
			} `json:"rules"`
		} `json:"spec"`
	}
	if yaml.Unmarshal(doc, &d) != nil || d.Metadata.Name == "" {
		return nil
	}
	switch d.Kind {
	case "ClusterImagePolicy":
		p := &Policy{Name: "ClusterImagePolicy/" + d.Metadata.Name, GlobStyle: SigstoreGlob, Mode: Enforce, Invalid: loadErr}
		if d.Spec.Mode == "warn" {
			p.Mode = Warn
		}
		for _, im := range d.Spec.Images {
			if im.Glob != "" {
				p.Images = append(p.Images, im.Glob)
			}
		}
		if len(p.Images) == 0 {
			return nil
		}
		return []*Policy{p}
	case "ClusterPolicy", "Policy":
		base := d.Kind + "/" + d.Metadata.Name
		ns := ""
		if d.Kind == "Policy" {
			ns = d.Metadata.Namespace
			if ns == "" {
				ns = "default"
			}
			base = "Policy/" + ns + "/" + d.Metadata.Name
		}
		var out []*Policy
		for _, r := range d.Spec.Rules {
			for i, v := range r.VerifyImages {
				images := v.ImageReferences
				if v.Image != "" {
					images = append(images, v.Image)
				}
				if len(images) == 0 {
					continue
				}
				name := base + "/" + r.Name
				if len(r.VerifyImages) > 1 {
					name += fmt.Sprintf("/%d", i)
				}
				// Audit (Kyverno's default) only warns, as the policy would.
				mode := Warn
				action := v.FailureAction
				if action == "" {
					action = d.Spec.ValidationFailureAction
				}
				if strings.EqualFold(action, "enforce") {
					mode = Enforce
				}
				out = append(out, &Policy{Name: name, Namespace: ns, GlobStyle: KyvernoGlob, Mode: mode, Images: images, Invalid: loadErr})
			}
		}
		return out
	}
	return nil
}
