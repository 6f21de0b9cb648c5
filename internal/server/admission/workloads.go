package admission

import (
	"encoding/json"
	"fmt"
	"strings"
)

// specPaths is where each workload kind keeps its pod spec, as JSON pointer
// segments.
var specPaths = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// podSpec is the part of a pod spec admission reads.
type podSpec struct {
	Containers          []container `json:"containers"`
	InitContainers      []container `json:"initContainers"`
	EphemeralContainers []container `json:"ephemeralContainers"`
	ImagePullSecrets    []struct {
		Name string `json:"name"`
	} `json:"imagePullSecrets"`
	ServiceAccountName string `json:"serviceAccountName"`
	// Volumes of type image (the ImageVolume feature) mount an image's
	// files: they are images to judge too.
	Volumes []struct {
		Name  string `json:"name"`
		Image *struct {
			Reference string `json:"reference"`
		} `json:"image"`
	} `json:"volumes"`
}

type container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// workload is what admission needs of an object.
type workload struct {
	Labels   map[string]string
	Deleting bool
	Images   []imageAt
	Spec     podSpec
}

type imageAt struct {
	Path, Image, Container string
}

// readWorkload finds the pod spec of obj (of kind); ok is false for kinds
// without one.
func readWorkload(kind string, obj []byte) (w workload, ok bool, err error) {
	path, ok := specPaths[kind]
	if !ok {
		return w, false, nil
	}
	var top struct {
		Metadata struct {
			Labels            map[string]string `json:"labels"`
			DeletionTimestamp *string           `json:"deletionTimestamp"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(obj, &top); err != nil {
		return w, true, fmt.Errorf("the %s object is not JSON: %w", kind, err)
	}
	w.Labels, w.Deleting = top.Metadata.Labels, top.Metadata.DeletionTimestamp != nil
	var node any
	if err := json.Unmarshal(obj, &node); err != nil {
		return w, true, fmt.Errorf("the %s object is not JSON: %w", kind, err)
	}
	for _, seg := range path {
		m, _ := node.(map[string]any)
		node = m[seg]
	}
	if node == nil {
		return w, true, nil // no pod spec: nothing to judge
	}
	raw, _ := json.Marshal(node)
	if err := json.Unmarshal(raw, &w.Spec); err != nil {
		return w, true, fmt.Errorf("%s at /%s: %w", kind, strings.Join(path, "/"), err)
	}
	prefix := "/" + strings.Join(path, "/")
	for _, list := range []struct {
		field string
		cs    []container
	}{{"containers", w.Spec.Containers}, {"initContainers", w.Spec.InitContainers}, {"ephemeralContainers", w.Spec.EphemeralContainers}} {
		for i, c := range list.cs {
			w.Images = append(w.Images, imageAt{Path: fmt.Sprintf("%s/%s/%d/image", prefix, list.field, i), Image: c.Image, Container: c.Name})
		}
	}
	for i, v := range w.Spec.Volumes {
		if v.Image != nil && v.Image.Reference != "" {
			w.Images = append(w.Images, imageAt{Path: fmt.Sprintf("%s/volumes/%d/image/reference", prefix, i), Image: v.Image.Reference, Container: "volume " + v.Name})
		}
	}
	return w, true, nil
}
