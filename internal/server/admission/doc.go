// Package admission is the Kubernetes admission webhook: AdmissionReview v1
// in, the images of Pods and of every workload with a pod template out to
// pkg/admit, its decision back as an AdmissionResponse — a JSON patch
// pinning tags to digests on the mutating path, allowed or denied (with
// each reason, and warnings) on the validating path. It answers inside the
// deadline the apiserver gives every call (its ?timeout=), reads pull
// secrets for registry credentials, and reloads policies from files or
// watched custom resources.
package admission
