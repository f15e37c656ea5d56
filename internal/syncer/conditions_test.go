package syncer_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/syncer"
)

func esFields(c *esv1.ExternalSecretStatusCondition) (string, corev1.ConditionStatus, *metav1.Time) {
	return string(c.Type), c.Status, &c.LastTransitionTime
}

// TestSetCondition: the lastTransitionTime says when the status last
// changed; other condition types stay, after the one set.
func TestSetCondition(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(then.Add(time.Hour))
	ready := func(s corev1.ConditionStatus, msg string, at metav1.Time) esv1.ExternalSecretStatusCondition {
		return esv1.ExternalSecretStatusCondition{Type: esv1.ExternalSecretReady, Status: s, Message: msg, LastTransitionTime: at}
	}
	other := esv1.ExternalSecretStatusCondition{Type: "Other", Status: corev1.ConditionTrue, LastTransitionTime: then}
	tests := []struct {
		name  string
		conds []esv1.ExternalSecretStatusCondition
		set   esv1.ExternalSecretStatusCondition
		want  []esv1.ExternalSecretStatusCondition
	}{
		{"first", nil, ready(corev1.ConditionTrue, "ok", metav1.Time{}),
			[]esv1.ExternalSecretStatusCondition{ready(corev1.ConditionTrue, "ok", now)}},
		{"same status keeps the time", []esv1.ExternalSecretStatusCondition{ready(corev1.ConditionTrue, "ok", then)}, ready(corev1.ConditionTrue, "still ok", metav1.Time{}),
			[]esv1.ExternalSecretStatusCondition{ready(corev1.ConditionTrue, "still ok", then)}},
		{"new status, new time", []esv1.ExternalSecretStatusCondition{ready(corev1.ConditionTrue, "ok", then)}, ready(corev1.ConditionFalse, "bad", metav1.Time{}),
			[]esv1.ExternalSecretStatusCondition{ready(corev1.ConditionFalse, "bad", now)}},
		{"other types stay, after it", []esv1.ExternalSecretStatusCondition{other, ready(corev1.ConditionTrue, "ok", then)}, ready(corev1.ConditionTrue, "ok", metav1.Time{}),
			[]esv1.ExternalSecretStatusCondition{ready(corev1.ConditionTrue, "ok", then), other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]esv1.ExternalSecretStatusCondition(nil), tt.conds...)
			got := syncer.SetCondition(tt.conds, tt.set, now, esFields)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i].Type != tt.want[i].Type || got[i].Status != tt.want[i].Status || got[i].Message != tt.want[i].Message ||
					!got[i].LastTransitionTime.Equal(&tt.want[i].LastTransitionTime) {
					t.Errorf("condition %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			for i := range before {
				if tt.conds[i] != before[i] {
					t.Errorf("the input list was modified")
				}
			}
		})
	}
}
