package sealedsecrets

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/syncer"
)

// syncStatus is the Synced condition a pass ends in: True without err,
// False with reason and err's text as message.
type syncStatus struct {
	reason string
	err    error
}

// setSynced writes Bitnami's Synced condition and observedGeneration as
// st says, when they changed; nil writes nothing. The message is the
// error text, which by construction carries no secret bytes (package
// crypto's errors are vague, template errors are scrubbed, the API
// server's refusals are redacted).
func (r *Reconciler) setSynced(ctx context.Context, ss *ssv1alpha1.SealedSecret, st *syncStatus) error {
	if st == nil {
		return nil
	}
	defer r.observe(ss)
	if !r.UpdateStatus {
		return nil
	}
	status, message := corev1.ConditionTrue, ""
	if st.err != nil {
		status, message = corev1.ConditionFalse, st.err.Error()
	}
	var prev *ssv1alpha1.SealedSecretCondition
	if ss.Status != nil {
		for i := range ss.Status.Conditions {
			if ss.Status.Conditions[i].Type == ssv1alpha1.SealedSecretSynced {
				prev = &ss.Status.Conditions[i]
			}
		}
	}
	if prev != nil && prev.Status == status && prev.Message == message && prev.Reason == st.reason &&
		ss.Status.ObservedGeneration == ss.Generation {
		return nil
	}
	now := metav1.Now()
	cond := ssv1alpha1.SealedSecretCondition{
		Type: ssv1alpha1.SealedSecretSynced, Status: status, Reason: st.reason, Message: message, LastUpdateTime: now,
	}
	before := ss.DeepCopy()
	var conds []ssv1alpha1.SealedSecretCondition
	if ss.Status != nil {
		conds = ss.Status.Conditions
	}
	ss.Status = &ssv1alpha1.SealedSecretStatus{ObservedGeneration: ss.Generation, Conditions: syncer.SetCondition(conds, cond, now, conditionFields)}
	var err error
	if r.statusUpdate {
		// A conflict is an error: the reconcile runs again on the object
		// that changed meanwhile.
		err = r.Client.Status().Update(ctx, ss)
	} else {
		err = r.Client.Status().Patch(ctx, ss, client.MergeFrom(before))
	}
	if err != nil {
		r.metrics.errors.WithLabelValues(reasonStatus, ss.Namespace).Inc()
		return client.IgnoreNotFound(err)
	}
	return nil
}

// conditionFields reads a SealedSecret condition for syncer.SetCondition.
func conditionFields(c *ssv1alpha1.SealedSecretCondition) (string, corev1.ConditionStatus, *metav1.Time) {
	return string(c.Type), c.Status, &c.LastTransitionTime
}

// statusOverBudget reports whether the status says the templates of ss,
// at its current generation, went over their render budget.
func statusOverBudget(ss *ssv1alpha1.SealedSecret) bool {
	if ss.Status == nil || ss.Status.ObservedGeneration != ss.Generation {
		return false
	}
	for _, c := range ss.Status.Conditions {
		if c.Type == ssv1alpha1.SealedSecretSynced {
			return c.Status == corev1.ConditionFalse && c.Reason == ReasonTemplateBudgetExceeded
		}
	}
	return false
}
