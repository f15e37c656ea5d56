// Package restart rolls Deployments, StatefulSets and DaemonSets when a
// Secret they use changes, for the Secrets sealsync manages: those written
// from SealedSecrets and ExternalSecrets alike (label
// sealsync.dev/managed-by). It is what users install Stakater's Reloader
// for, limited to sealsync's Secrets.
//
// # Opting in
//
// A workload opts in with the annotation
//
//	sealsync.dev/restart-on-secret-change: "true"
//
// on its own metadata (not its pod template's). The Secrets it uses are
// those its pod template names in secret and projected volumes, env
// valueFrom.secretKeyRef and envFrom.secretRef, of containers and init
// containers; not imagePullSecrets, which running containers never see.
//
// # What happens
//
// The workload's metadata gets [RecordAnnotation]: for each Secret it
// uses, a digest of its data as the running pods got it. When the data of
// one or more of those Secrets changes, the controller writes the new
// digests and, in the same patch, sets [TemplateAnnotation] on the pod
// template to a value derived from them; changing the pod template is
// what makes the workload's own controller roll its pods, as `kubectl
// rollout restart` does. So:
//
//   - The first time a workload is seen opted in, its digests are recorded
//     and nothing restarts: adding the annotation never restarts a
//     workload. Removing it removes the record; adding it again is a
//     first time again.
//   - A sync that leaves a Secret's data as it was (a refresh that found
//     nothing new, a metadata change) restarts nothing: digests are of the
//     data only.
//   - Secrets sealsync does not manage are not in the controller's cache
//     and never count.
//   - Changes arriving within [Options.Delay] of each other (several
//     Secrets of one refresh, the values of one ExternalSecret template)
//     make one rollout: Secret events are queued that long before the
//     workload is looked at.
//   - A Secret that appears counts as a change; one that goes does not
//     (new pods would not start without it).
//
// # Digests
//
// The digests are HMAC-SHA256 of the Secret's data under a key kept in
// Secret [KeySecretName] in the controller's namespace, made on first use:
// anyone who may read Deployments may read the annotation, and Kubernetes'
// "view" role reads Deployments but not Secrets, so a plain hash of a
// short password there could be guessed offline.
//
// # Memory and work
//
// The API server can filter a watch by label, not by annotation, so the
// workloads of every watched namespace are watched; but as metadata only
// (no pod templates, no status, over the wire or in memory), stripped
// before they are cached to name, namespace, UID, versions and this
// package's annotations: a few hundred bytes per workload of the cluster.
// The pod template of an opted-in workload is read with one GET per
// generation, and the Secrets it names kept in an index of opted-in
// workloads only. Managed Secrets are in the controller's cache already.
//
// A tenant controls the workloads and Secret names of their namespace, so
// the work of one event is bounded: a workload naming more than
// [Options.MaxSecrets] Secrets is not handled (a Warning event says so),
// and one Secret change looks at no more than [Options.MaxWorkloads]
// workloads of each kind (the first by name; a Warning event on the
// Secret says how many were left out). Each workload costs cache reads,
// a digest per changed Secret (kept until that Secret changes again) and
// at most one patch.
package restart

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Annotations this package reads and writes.
const (
	// OptInAnnotation, set to "true" on a workload's metadata, makes it
	// restart when a managed Secret it uses changes.
	OptInAnnotation = "sealsync.dev/restart-on-secret-change"
	// RecordAnnotation, on the workload's metadata, holds the digests of
	// the Secrets as its pods last got them. Written by the controller.
	RecordAnnotation = "sealsync.dev/secret-hashes"
	// TemplateAnnotation, on the pod template, changes with every restart
	// the controller makes. Written by the controller.
	TemplateAnnotation = "sealsync.dev/secret-hash"
)

// Defaults of [Options].
const (
	// DefaultDelay is how long a Secret change waits for others before
	// the workloads using it are looked at: a refresh slot spreads the
	// ExternalSecrets of one backend over a couple of seconds.
	DefaultDelay = 5 * time.Second
	// DefaultMaxSecrets is the most distinct Secrets one workload may
	// reference and still be handled.
	DefaultMaxSecrets = 64
	// DefaultMaxWorkloads is the most workloads of each kind one Secret
	// change looks at.
	DefaultMaxWorkloads = 100
)

// fieldOwner is the field manager of this package's patches.
const fieldOwner = "sealsync-restart"

// Options configure the restart controllers.
type Options struct {
	// Namespace is the controller's own, which holds [KeySecretName].
	Namespace string
	// Delay is how long a Secret change waits for others; default
	// [DefaultDelay].
	Delay time.Duration
	// MaxSecrets is [DefaultMaxSecrets] unless set.
	MaxSecrets int
	// MaxWorkloads is [DefaultMaxWorkloads] unless set.
	MaxWorkloads int
}

func (o *Options) setDefaults() {
	if o.Delay <= 0 {
		o.Delay = DefaultDelay
	}
	if o.MaxSecrets <= 0 {
		o.MaxSecrets = DefaultMaxSecrets
	}
	if o.MaxWorkloads <= 0 {
		o.MaxWorkloads = DefaultMaxWorkloads
	}
}

// kind is one kind of workload: how to read its pod template.
type kind struct {
	gvk       schema.GroupVersionKind
	newObject func() client.Object
	template  func(client.Object) *corev1.PodTemplateSpec
}

var kinds = []kind{
	{
		gvk:       appsv1.SchemeGroupVersion.WithKind("Deployment"),
		newObject: func() client.Object { return &appsv1.Deployment{} },
		template:  func(o client.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.Deployment).Spec.Template },
	},
	{
		gvk:       appsv1.SchemeGroupVersion.WithKind("StatefulSet"),
		newObject: func() client.Object { return &appsv1.StatefulSet{} },
		template:  func(o client.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.StatefulSet).Spec.Template },
	},
	{
		gvk:       appsv1.SchemeGroupVersion.WithKind("DaemonSet"),
		newObject: func() client.Object { return &appsv1.DaemonSet{} },
		template:  func(o client.Object) *corev1.PodTemplateSpec { return &o.(*appsv1.DaemonSet).Spec.Template },
	},
}

// metadata returns an empty metadata object of k, the form workloads are
// watched, cached and patched in.
func (k kind) metadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(k.gvk)
	return m
}

// CacheByObject returns the cache settings the restart controllers need,
// to merge into the manager's cache.Options.ByObject: every workload kind
// is cached stripped by stripWorkload.
func CacheByObject() map[client.Object]cache.ByObject {
	m := map[client.Object]cache.ByObject{}
	for _, k := range kinds {
		m[k.newObject()] = cache.ByObject{Transform: stripWorkload}
	}
	return m
}

// stripWorkload is the cache transform of workload metadata: it keeps
// what the restart controllers read (name, namespace, UID, resource
// version, generation, deletion time, and this package's annotations) and
// drops the rest (labels, other annotations, managed fields, owner
// references), so that a workload that did not opt in costs a few hundred
// bytes. Objects other than metadata pass through unchanged.
func stripWorkload(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	var keep map[string]string
	for _, a := range []string{OptInAnnotation, RecordAnnotation} {
		if v, ok := m.Annotations[a]; ok {
			if keep == nil {
				keep = map[string]string{}
			}
			keep[a] = v
		}
	}
	m.ObjectMeta = metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID,
		ResourceVersion: m.ResourceVersion, Generation: m.Generation,
		DeletionTimestamp: m.DeletionTimestamp, Annotations: keep,
	}
	return m, nil
}
