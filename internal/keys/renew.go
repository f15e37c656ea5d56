package keys

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
)

// Renewer returns the leader-only runnable that makes keys when due.
func (m *Manager) Renewer() *Renewer { return &Renewer{m: m} }

// Renewer makes a key when there is none, when the newest is older than
// the renewal period or the cutoff, and when a key Secret carries a
// renewal request newer than the newest key. It runs only on the leader
// and never blocks the health endpoint: until the first key exists the
// server answers /v1/cert.pem with 503.
type Renewer struct{ m *Manager }

// NeedLeaderElection is true: only one replica may generate keys.
func (r *Renewer) NeedLeaderElection() bool { return true }

// Start runs until ctx is done.
func (r *Renewer) Start(ctx context.Context) error {
	m := r.m
	log := logr.FromContextOrDiscard(ctx).WithName("keys")
	ctx = logr.NewContext(ctx, log)
	select {
	case <-m.loaded:
	case <-ctx.Done():
		return nil
	}
	backoff := time.Second
	for {
		wait, reason, answers, err := m.due(ctx)
		if err != nil {
			log.Error(err, "cannot read key rotation requests")
			wait = backoff
		} else if reason != "" {
			if err := m.generate(ctx, reason, answers); err != nil {
				log.Error(err, "key generation failed, retrying", "in", backoff.String())
				wait = backoff
				backoff = min(2*backoff, 5*time.Minute)
			} else {
				backoff = time.Second
				continue
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-m.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// maxWait bounds how long the renewer sleeps between checks.
const maxWait = time.Hour

// due says whether a key must be made now (reason non-empty, and answers
// the renewal request it is for, if any) or how long until the next
// check.
func (m *Manager) due(ctx context.Context) (wait time.Duration, reason string, answers time.Time, err error) {
	now := m.now()
	latest, lerr := m.Keyring().Latest()
	if lerr != nil {
		return 0, "no active key", time.Time{}, nil
	}
	if !m.opts.Cutoff.IsZero() && latest.Created.Before(m.opts.Cutoff) {
		return 0, "newest key is older than the cutoff time", time.Time{}, nil
	}
	requested, answered, err := m.renewRequests(ctx)
	if err != nil {
		return 0, "", time.Time{}, err
	}
	if m.answered.After(answered) {
		answered = m.answered
	}
	if requested.After(answered) && !latest.Created.After(requested) {
		return 0, "rotation requested", requested, nil
	}
	wait = maxWait
	if m.opts.RenewPeriod > 0 {
		next := latest.Created.Add(m.opts.RenewPeriod)
		if !now.Before(next) {
			return 0, "renewal period elapsed", time.Time{}, nil
		}
		wait = min(wait, next.Sub(now))
	}
	return wait, "", time.Time{}, nil
}

// renewRequests returns the newest renewal request on any key Secret and
// the newest request a key was generated for.
func (m *Manager) renewRequests(ctx context.Context) (requested, answered time.Time, err error) {
	var list corev1.SecretList
	if err := m.reader.List(ctx, &list, client.InNamespace(m.opts.Namespace), client.HasLabels{keysecret.Label}); err != nil {
		return time.Time{}, time.Time{}, err
	}
	newest := func(cur time.Time, v string, ok bool) time.Time {
		if !ok {
			return cur
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil || !t.After(cur) {
			return cur
		}
		return t
	}
	for _, s := range list.Items {
		v, ok := s.Annotations[keysecret.RenewRequestAnnotation]
		requested = newest(requested, v, ok)
		v, ok = s.Annotations[keysecret.RenewAnsweredAnnotation]
		answered = newest(answered, v, ok)
	}
	return requested, answered, nil
}

// generate makes a key, stores it as a key Secret and adds it to the
// keyring at once, without waiting for the watch to see it.
func (m *Manager) generate(ctx context.Context, reason string, answers time.Time) error {
	log := logr.FromContextOrDiscard(ctx)
	start := m.now()
	priv, err := crypto.GenerateKey(m.random, m.opts.Bits)
	if err != nil {
		return err
	}
	// Keys are ordered by their certificate's NotBefore, which has whole
	// seconds: a key made in the same second as the newest would tie with
	// it and might not become the sealing key. Wait for the next second.
	if latest, err := m.Keyring().Latest(); err == nil {
		next := latest.Created.Truncate(time.Second).Add(time.Second)
		if d := next.Sub(m.now()); d > 0 && d <= time.Second {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	cert, err := crypto.NewCertificate(m.random, priv, m.now(), m.opts.ValidFor, m.opts.CommonName)
	if err != nil {
		return err
	}
	key, err := crypto.NewKey(priv, cert, crypto.StatusActive, time.Time{})
	if err != nil {
		return err
	}
	annotations := m.opts.Annotations
	if !answers.IsZero() {
		annotations = maps.Clone(annotations)
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[keysecret.RenewAnsweredAnnotation] = answers.UTC().Format(time.RFC3339)
	}
	s := keysecret.New(key, m.opts.Namespace, m.opts.Prefix, m.opts.Labels, annotations)
	if err := m.client.Create(ctx, s); err != nil {
		return fmt.Errorf("create key secret: %w", err)
	}
	if !answers.IsZero() {
		m.answered = answers
	}
	if m.opts.Order == keysecret.OrderSecretCreation {
		key.Created = s.CreationTimestamp.Time
	}
	log.Info("generated a sealing key", "reason", reason, "keyID", key.ID.String(), "secret", s.Name,
		"bits", m.opts.Bits, "took", m.now().Sub(start).Round(time.Millisecond).String())
	m.store(ctx, crypto.NewKeyring(append(m.Keyring().Keys(), key)...))
	return nil
}
