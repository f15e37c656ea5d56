package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// The controller replaces Bitnami's and ESO's in place, often under their
// charts' RBAC, which is narrower than ours: Bitnami's grants no Leases,
// no events.k8s.io Events and only update on SealedSecret status, and
// neither chart installs the other product's CRDs. Rather than stall in
// leader election or fail at start, the controller asks the API server
// what its identity may do (SelfSubjectAccessReview, which every
// authenticated identity may create, and discovery) and does without
// what it lacks, saying so once in the log.

// can answers whether the controller's identity may do something.
type can struct {
	client kubernetes.Interface
}

// do reports whether verb on resource (group, "resource" or
// "resource/subresource") in namespace ("" for every namespace) is
// allowed.
func (c can) do(ctx context.Context, verb, group, resource, namespace string) (bool, error) {
	res, sub, _ := strings.Cut(resource, "/")
	r, err := c.client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: verb, Group: group, Resource: res, Subresource: sub, Namespace: namespace,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("access review of %s %s: %w", verb, resource, err)
	}
	return r.Status.Allowed, nil
}

// all reports whether every verb on resource is allowed.
func (c can) all(ctx context.Context, verbs []string, group, resource, namespace string) (bool, error) {
	for _, v := range verbs {
		ok, err := c.do(ctx, v, group, resource, namespace)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// served reports whether the API server serves every resource of
// groupVersion, that is whether their CRDs are installed.
func (c can) served(groupVersion string, resources ...string) (bool, error) {
	list, err := c.client.Discovery().ServerResourcesForGroupVersion(groupVersion)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discovery of %s: %w", groupVersion, err)
	}
	have := map[string]bool{}
	for _, r := range list.APIResources {
		have[r.Name] = true
	}
	for _, r := range resources {
		if !have[r] {
			return false, nil
		}
	}
	return true, nil
}

// product is one half of the controller (SealedSecrets, ExternalSecrets)
// and what it needs of the API server to run.
type product struct {
	// name is what the log calls it.
	name string
	// gv and resources must be served.
	gv        schema.GroupVersion
	resources []string
	// watch are the namespaced resources its informers list and watch,
	// and watchCluster the cluster-scoped ones.
	watch, watchCluster []string
}

// missing says what p lacks to run in the namespaces given ("" for all),
// or "" when nothing.
func (c can) missing(ctx context.Context, p product, namespaces []string) (string, error) {
	ok, err := c.served(p.gv.String(), p.resources...)
	if err != nil {
		return "", err
	}
	if !ok {
		return fmt.Sprintf("the API server does not serve %s %s (CRDs not installed)", p.gv, strings.Join(p.resources, ", ")), nil
	}
	watchVerbs := []string{"get", "list", "watch"}
	for _, w := range []struct {
		resources  []string
		namespaces []string
	}{{p.watch, namespaces}, {p.watchCluster, []string{""}}} {
		for _, r := range w.resources {
			ns, ok, err := c.everywhere(ctx, watchVerbs, p.gv.Group, r, w.namespaces)
			if err != nil {
				return "", err
			}
			if !ok {
				where := "in every namespace"
				if ns != "" {
					where = "in namespace " + ns
				}
				return fmt.Sprintf("no right to get, list and watch %s.%s %s", r, p.gv.Group, where), nil
			}
		}
	}
	return "", nil
}

// everywhere reports whether verbs on resource are allowed in every
// namespace given ("" for all namespaces), and if not, the first where
// they are not. It asks once for all namespaces first: a ClusterRole,
// the usual grant, answers for every namespace in as many reviews as
// there are verbs, however many namespaces are watched.
func (c can) everywhere(ctx context.Context, verbs []string, group, resource string, namespaces []string) (string, bool, error) {
	ok, err := c.all(ctx, verbs, group, resource, "")
	if err != nil || ok {
		return "", ok, err
	}
	for _, ns := range namespaces {
		if ns == "" {
			return "", false, nil
		}
		ok, err := c.all(ctx, verbs, group, resource, ns)
		if err != nil || !ok {
			return ns, false, err
		}
	}
	return "", true, nil
}

// whenAvailable runs setup for p at once if the API server offers what p
// needs, else once it does, looking again every interval: a product whose
// CRDs or rights come after the controller (ESO's CRDs installed during a
// migration) starts without a restart. It logs once why p is off, and
// again when it starts.
type whenAvailable struct {
	can        can
	p          product
	namespaces []string
	interval   time.Duration
	setup      func(context.Context) error
	log        func(msg string, kv ...any)
}

// Start implements manager.Runnable: it waits for p and sets it up.
func (w *whenAvailable) Start(ctx context.Context) error {
	logged := false
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		why, err := w.can.missing(ctx, w.p, w.namespaces)
		switch {
		case err != nil:
			// The API server is unreachable for a moment: look again.
			if !logged {
				w.log(w.p.name+" are off until the API server answers", "error", err.Error())
				logged = true
			}
		case why == "":
			if err := w.setup(ctx); err != nil {
				return fmt.Errorf("start %s: %w", w.p.name, err)
			}
			w.log(w.p.name + " are on")
			return nil
		case !logged:
			w.log(w.p.name+" are off until this changes", "reason", why, "recheck", w.interval.String())
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every
// replica registers the product's controllers, which then run on the
// leader only, as they would have from the start.
func (w *whenAvailable) NeedLeaderElection() bool { return false }

var _ manager.LeaderElectionRunnable = (*whenAvailable)(nil)

// coreEvents writes events through the core/v1 Events API, for an
// identity that may not create events.k8s.io Events (Bitnami's chart
// grants only core Events).
type coreEvents struct{ record.EventRecorder }

var _ events.EventRecorder = coreEvents{}

// Eventf implements events.EventRecorder; core/v1 Events have no action
// and no related object.
func (c coreEvents) Eventf(regarding, _ runtime.Object, eventtype, reason, _, note string, args ...any) {
	c.EventRecorder.Eventf(regarding, eventtype, reason, note, args...)
}
