package syncer

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionFields is how [SetCondition] reads a status condition: each
// API group spells its condition struct differently (SealedSecrets,
// ExternalSecrets, SecretStores), with these fields in common.
type ConditionFields[C any] func(c *C) (typ string, status corev1.ConditionStatus, lastTransition *metav1.Time)

// SetCondition returns conds with c in place of the condition of c's type:
// c first, the conditions of other types after it in their order. c keeps
// the lastTransitionTime of the condition it replaces when its status is
// the same, and gets now otherwise, so that the time says when the status
// last changed, not when it was last written.
func SetCondition[C any](conds []C, c C, now metav1.Time, fields ConditionFields[C]) []C {
	typ, status, transition := fields(&c)
	*transition = now
	var others []C
	for i := range conds {
		t, s, lt := fields(&conds[i])
		switch {
		case t != typ:
			others = append(others, conds[i])
		case s == status:
			*transition = *lt
		}
	}
	return append([]C{c}, others...)
}
