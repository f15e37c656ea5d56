package restart

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// secretRefs returns the names of the Secrets a pod of spec reads, sorted
// and each once: secret and projected volumes, and env valueFrom
// secretKeyRef and envFrom secretRef of every container and init
// container. imagePullSecrets are left out on purpose: kubelet reads them
// when it pulls an image, a running container never sees them, so a new
// one is no reason to restart (and a wrong one would then break every
// pod at once).
//
// The spec is a tenant's: more than max distinct names is an error, so
// that the work one Secret change causes stays bounded.
func secretRefs(spec *corev1.PodSpec, max int) ([]string, error) {
	seen := map[string]bool{}
	add := func(name string) {
		if name != "" {
			seen[name] = true
		}
	}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if v.Secret != nil {
			add(v.Secret.SecretName)
		}
		if v.Projected != nil {
			for j := range v.Projected.Sources {
				if s := v.Projected.Sources[j].Secret; s != nil {
					add(s.Name)
				}
			}
		}
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			c := &cs[i]
			for j := range c.Env {
				if vf := c.Env[j].ValueFrom; vf != nil && vf.SecretKeyRef != nil {
					add(vf.SecretKeyRef.Name)
				}
			}
			for j := range c.EnvFrom {
				if sr := c.EnvFrom[j].SecretRef; sr != nil {
					add(sr.Name)
				}
			}
		}
	}
	if len(seen) > max {
		return nil, fmt.Errorf("the pod template references %d Secrets; at most %d are watched for changes", len(seen), max)
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}
