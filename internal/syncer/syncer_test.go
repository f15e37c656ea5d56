package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/internal/syncer"
	"github.com/sealsync/sealsync/providers"
)

func TestPlanApply(t *testing.T) {
	yes := true
	owner := metav1.OwnerReference{APIVersion: "v1", Kind: "X", Name: "x", UID: "u", Controller: &yes}
	desired := func() *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n", Labels: map[string]string{"a": "1"}, Annotations: map[string]string{"h": "1"}},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{"k": []byte("v")},
		}
	}
	tests := []struct {
		name   string
		d      syncer.Desired
		actual *corev1.Secret
		want   syncer.Action
		check  func(*testing.T, *corev1.Secret)
	}{
		{"missing is created", syncer.Desired{Secret: desired(), Owners: []metav1.OwnerReference{owner}}, nil, syncer.ActionCreate,
			func(t *testing.T, s *corev1.Secret) {
				if len(s.OwnerReferences) != 1 {
					t.Error("owner not set")
				}
			}},
		{"equal is left alone", syncer.Desired{Secret: desired()}, func() *corev1.Secret { s := desired(); s.ResourceVersion = "5"; return s }(), syncer.ActionNone, nil},
		{"replace drops foreign keys", syncer.Desired{Secret: desired()}, func() *corev1.Secret {
			s := desired()
			s.Data["extra"] = []byte("x")
			s.Labels["other"] = "y"
			s.ResourceVersion = "5"
			return s
		}(), syncer.ActionUpdate, func(t *testing.T, s *corev1.Secret) {
			if s.Data["extra"] != nil || s.Labels["other"] != "" || s.ResourceVersion != "5" {
				t.Errorf("not replaced: %+v", s)
			}
		}},
		{"merge keeps foreign keys", syncer.Desired{Secret: desired(), MergeData: true, MergeMetadata: true, KeepOwners: true}, func() *corev1.Secret {
			s := desired()
			s.Data = map[string][]byte{"theirs": []byte("x")}
			s.Labels = map[string]string{"theirs": "1"}
			s.OwnerReferences = []metav1.OwnerReference{{Name: "other"}}
			return s
		}(), syncer.ActionUpdate, func(t *testing.T, s *corev1.Secret) {
			if string(s.Data["theirs"]) != "x" || string(s.Data["k"]) != "v" || s.Labels["theirs"] != "1" || s.Labels["a"] != "1" || s.OwnerReferences[0].Name != "other" {
				t.Errorf("not merged: %+v", s)
			}
		}},
		{"merge drops the source's stale keys only", syncer.Desired{Secret: desired(), MergeData: true, DropKeys: []string{"stale", "k"}, KeepOwners: true}, func() *corev1.Secret {
			s := desired()
			s.Data = map[string][]byte{"theirs": []byte("x"), "stale": []byte("old"), "k": []byte("old")}
			return s
		}(), syncer.ActionUpdate, func(t *testing.T, s *corev1.Secret) {
			if len(s.Data) != 2 || string(s.Data["theirs"]) != "x" || string(s.Data["k"]) != "v" {
				t.Errorf("data = %v, want theirs and k", s.Data)
			}
		}},
		{"immutable with new data is recreated", syncer.Desired{Secret: desired(), RecreateImmutable: true}, func() *corev1.Secret {
			s := desired()
			s.Immutable = &yes
			s.UID = "old"
			s.Data["k"] = []byte("old")
			return s
		}(), syncer.ActionRecreate, func(t *testing.T, s *corev1.Secret) {
			if s.UID != "" || s.ResourceVersion != "" || string(s.Data["k"]) != "v" {
				t.Errorf("recreate object: %+v", s)
			}
		}},
		{"immutable without permission is blocked", syncer.Desired{Secret: desired()}, func() *corev1.Secret {
			s := desired()
			s.Immutable = &yes
			s.Data["k"] = []byte("old")
			return s
		}(), syncer.ActionBlocked, nil},
		{"immutable metadata change is an update", syncer.Desired{Secret: func() *corev1.Secret { s := desired(); s.Immutable = &yes; return s }()}, func() *corev1.Secret {
			s := desired()
			s.Immutable = &yes
			s.Labels["a"] = "old"
			return s
		}(), syncer.ActionUpdate, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := syncer.PlanApply(tt.d, tt.actual)
			if p.Action != tt.want {
				t.Fatalf("action = %v, want %v", p.Action, tt.want)
			}
			if tt.check != nil {
				tt.check(t, p.Secret)
			}
		})
	}
}

// TestPlanApplyRefusesTokenSecrets: whatever a source asks for (tenant
// input: a SealedSecret's template or sealed v1 Secret, an ExternalSecret's
// template) and whatever exists (operator or cluster: a Secret the token
// controller filled), no write makes or touches a Secret Kubernetes fills
// with or accepts as credentials. The check sees the object after the
// merge, so a type or annotation that only the existing Secret carries
// counts too.
func TestPlanApplyRefusesTokenSecrets(t *testing.T) {
	secret := func(typ corev1.SecretType, annotations map[string]string) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n", Annotations: annotations, ResourceVersion: "7"},
			Type:       typ,
			Data:       map[string][]byte{"k": []byte("v")},
		}
	}
	saName := map[string]string{corev1.ServiceAccountNameKey: "deployer"}
	yes := true
	tests := []struct {
		name   string
		d      syncer.Desired
		actual *corev1.Secret
		want   string // in Plan.Err
	}{
		{"source type service-account-token", syncer.Desired{Secret: secret(corev1.SecretTypeServiceAccountToken, saName)}, nil,
			`type "kubernetes.io/service-account-token"`},
		{"source type service-account-token without annotation", syncer.Desired{Secret: secret(corev1.SecretTypeServiceAccountToken, nil)}, nil,
			`type "kubernetes.io/service-account-token"`},
		{"source type bootstrap token", syncer.Desired{Secret: secret(corev1.SecretTypeBootstrapToken, nil)}, nil,
			`type "bootstrap.kubernetes.io/token"`},
		{"source annotation on an Opaque Secret", syncer.Desired{Secret: secret(corev1.SecretTypeOpaque, saName)}, nil,
			`annotation "kubernetes.io/service-account.name"`},
		{"source type replaces an Opaque Secret's", syncer.Desired{Secret: secret(corev1.SecretTypeServiceAccountToken, saName)},
			secret(corev1.SecretTypeOpaque, nil), `type "kubernetes.io/service-account-token"`},
		{"merge into a service-account-token Secret", syncer.Desired{Secret: secret("", nil), MergeData: true, MergeMetadata: true, KeepOwners: true},
			secret(corev1.SecretTypeServiceAccountToken, saName), `secret s exists with type "kubernetes.io/service-account-token": sealsync does not write`},
		{"replace a service-account-token Secret with an Opaque one", syncer.Desired{Secret: secret(corev1.SecretTypeOpaque, nil)},
			secret(corev1.SecretTypeServiceAccountToken, saName), `exists with`},
		{"recreate an immutable bootstrap token", syncer.Desired{Secret: secret(corev1.SecretTypeOpaque, nil), RecreateImmutable: true},
			func() *corev1.Secret { s := secret(corev1.SecretTypeBootstrapToken, nil); s.Immutable = &yes; return s }(), `exists with`},
		{"merged annotation of an Opaque Secret", syncer.Desired{Secret: secret("", nil), MergeMetadata: true},
			secret(corev1.SecretTypeOpaque, saName), `secret s exists with annotation "kubernetes.io/service-account.name"`},
		{"unchanged token Secret is still refused", syncer.Desired{Secret: secret(corev1.SecretTypeServiceAccountToken, saName)},
			secret(corev1.SecretTypeServiceAccountToken, saName), `exists with`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := syncer.PlanApply(tt.d, tt.actual)
			if p.Action != syncer.ActionRefused || p.Secret != nil {
				t.Fatalf("action = %v, secret %v; want refused", p.Action, p.Secret)
			}
			if !errors.Is(p.Err, syncer.ErrTokenSecret) || !strings.Contains(p.Err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrTokenSecret with %q", p.Err, tt.want)
			}
		})
	}
	// The annotation is the token controller's key only with the type;
	// other annotations of its namespace are fine.
	p := syncer.PlanApply(syncer.Desired{Secret: secret(corev1.SecretTypeOpaque, map[string]string{"kubernetes.io/description": "x"})}, nil)
	if p.Action != syncer.ActionCreate {
		t.Errorf("an Opaque Secret: %v %v", p.Action, p.Err)
	}
}

func TestDataHashIsStableAndUnambiguous(t *testing.T) {
	a := syncer.DataHash(map[string][]byte{"ab": []byte("c"), "x": nil})
	b := syncer.DataHash(map[string][]byte{"x": nil, "ab": []byte("c")})
	c := syncer.DataHash(map[string][]byte{"a": []byte("bc"), "x": nil})
	if a != b || a == c {
		t.Fatalf("hashes: %s %s %s", a, b, c)
	}
}

func TestNextRefresh(t *testing.T) {
	interval := time.Minute
	last := time.Date(2026, 11, 22, 10, 0, 17, 0, time.UTC)
	a := syncer.NextRefresh(last, interval, "identity-a", "es1", 0)
	a2 := syncer.NextRefresh(last.Add(20*time.Second), interval, "identity-a", "es2", 0)
	if !a.After(last) || a.Sub(last) > interval {
		t.Fatalf("next %v is not within one interval of %v", a, last)
	}
	if a.UnixNano()%int64(interval) != a2.UnixNano()%int64(interval) {
		t.Fatal("same identity landed in different slots")
	}
	phases := map[int64]bool{}
	for i := range 20 {
		n := syncer.NextRefresh(last, interval, fmt.Sprint("identity-", i), "es", 0)
		phases[n.UnixNano()%int64(interval)] = true
	}
	if len(phases) < 15 {
		t.Fatalf("identities share too few phases: %d of 20", len(phases))
	}
	s := syncer.NextRefresh(last, interval, "identity-a", "es1", time.Second)
	if s.Before(a) || s.Sub(a) >= time.Second {
		t.Fatalf("spread out of bounds: %v", s.Sub(a))
	}
	if !syncer.NextRefresh(last, 0, "x", "y", 0).IsZero() {
		t.Fatal("interval 0 must mean never")
	}
}

// countingClient counts calls and can be slowed down to expose
// single-flight behaviour.
type countingClient struct {
	calls atomic.Int32
	delay time.Duration
	err   error
}

func (c *countingClient) GetSecret(context.Context, esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	c.calls.Add(1)
	time.Sleep(c.delay)
	return []byte("value"), c.err
}
func (c *countingClient) GetSecretMap(context.Context, esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	c.calls.Add(1)
	return map[string][]byte{"k": []byte("v")}, c.err
}
func (c *countingClient) GetAllSecrets(context.Context, esv1.ExternalSecretFind) (map[string][]byte, error) {
	c.calls.Add(1)
	return map[string][]byte{"k": []byte("v")}, c.err
}
func (c *countingClient) Close(context.Context) error { return nil }

func TestReadsSingleFlightAndTTL(t *testing.T) {
	reads := syncer.NewReads(time.Hour)
	under := &countingClient{delay: 50 * time.Millisecond}
	a, b := reads.Wrap("id", under), reads.Wrap("id", under)
	other := reads.Wrap("other-identity", under)
	ref := esv1.ExternalSecretDataRemoteRef{Key: "path"}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a
			if i%2 == 1 {
				c = b
			}
			v, err := c.GetSecret(context.Background(), ref)
			if err != nil || string(v) != "value" {
				t.Errorf("got %q, %v", v, err)
			}
			v[0] = 'X' // callers own their copy
		}()
	}
	wg.Wait()
	if n := under.calls.Load(); n != 1 {
		t.Fatalf("%d backend calls for 20 identical concurrent reads, want 1", n)
	}
	if v, _ := a.GetSecret(context.Background(), ref); string(v) != "value" {
		t.Fatal("cached value was modified by a caller")
	}
	if _, _ = other.GetSecret(context.Background(), ref); under.calls.Load() != 2 {
		t.Fatal("another identity shared a result")
	}
	if _, _ = a.GetSecret(context.Background(), esv1.ExternalSecretDataRemoteRef{Key: "path", Property: "p"}); under.calls.Load() != 3 {
		t.Fatal("a different ref shared a result")
	}
	reads.Forget("id")
	if _, _ = a.GetSecret(context.Background(), ref); under.calls.Load() != 4 {
		t.Fatal("Forget did not drop the identity's results")
	}
}

func TestReadsDoNotCacheErrors(t *testing.T) {
	reads := syncer.NewReads(time.Hour)
	under := &countingClient{err: errors.New("vault down")}
	c := reads.Wrap("id", under)
	for range 3 {
		if _, err := c.GetSecret(context.Background(), esv1.ExternalSecretDataRemoteRef{Key: "k"}); err == nil {
			t.Fatal("error lost")
		}
	}
	if under.calls.Load() != 3 {
		t.Fatalf("errors were cached: %d calls", under.calls.Load())
	}
}

// countingProvider builds countingClients and counts logins.
type countingProvider struct{ logins atomic.Int32 }

func (p *countingProvider) NewClient(ctx context.Context, store providers.Store, kube providers.Kube) (providers.Client, error) {
	p.logins.Add(1)
	if _, err := kube.SecretKey(ctx, esmeta.SecretKeySelector{Name: "creds", Key: "token"}); err != nil {
		return nil, err
	}
	return &countingClient{}, nil
}

// fakeKube serves one credential whose content and version tests change.
type fakeKube struct {
	store   providers.Store
	content *atomic.Value
	version *atomic.Int32
	seen    int32
}

func (k *fakeKube) SecretKey(context.Context, esmeta.SecretKeySelector) ([]byte, error) {
	k.seen = k.version.Load()
	return []byte(k.content.Load().(string)), nil
}
func (k *fakeKube) ConfigMapKey(context.Context, string, string, string) ([]byte, error) {
	return nil, errors.New("no")
}
func (k *fakeKube) ServiceAccountToken(context.Context, esmeta.ServiceAccountSelector, []string, int64) (string, error) {
	return "", errors.New("no")
}
func (k *fakeKube) ControllerToken(context.Context, []string) (string, error) {
	return "", errors.New("no")
}
func (k *fakeKube) Fingerprint() string { return k.content.Load().(string) }
func (k *fakeKube) Changed(context.Context) (bool, error) {
	return k.version.Load() != k.seen, nil
}

func TestClientCache(t *testing.T) {
	reg := providers.NewRegistry()
	p := &countingProvider{}
	reg.Register(providers.Fake, p)
	content := &atomic.Value{}
	content.Store("cred-1")
	version := &atomic.Int32{}
	cache := syncer.NewClientCache(syncer.ClientCacheOptions{
		Registry: reg,
		Kube: func(store providers.Store) syncer.TrackingKube {
			return &fakeKube{store: store, content: content, version: version}
		},
		Reads:       syncer.NewReads(time.Minute),
		Recheck:     0,
		IdleTimeout: time.Hour,
	})
	spec := &esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Fake: &esv1.FakeProvider{}}}
	storeA := providers.Store{Kind: "SecretStore", Name: "s", Namespace: "a", Spec: spec}
	storeB := providers.Store{Kind: "SecretStore", Name: "s", Namespace: "b", Spec: spec}
	ctx := context.Background()

	_, idA, err := cache.Client(ctx, storeA, "gen1")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, _, err := cache.Client(ctx, storeA, "gen1"); err != nil {
			t.Fatal(err)
		}
	}
	if p.logins.Load() != 1 {
		t.Fatalf("%d logins for one store, want 1", p.logins.Load())
	}
	_, idB, _ := cache.Client(ctx, storeB, "gen1")
	if idA != idB || p.logins.Load() != 2 {
		t.Fatalf("identical stores: identities %s %s, logins %d", idA, idB, p.logins.Load())
	}
	// The store changed: rebuild.
	if _, _, err := cache.Client(ctx, storeA, "gen2"); err != nil || p.logins.Load() != 3 {
		t.Fatalf("spec change: logins %d, %v", p.logins.Load(), err)
	}
	// The credentials changed: rebuild with a new identity.
	content.Store("cred-2")
	version.Add(1)
	_, idA2, _ := cache.Client(ctx, storeA, "gen2")
	if p.logins.Load() != 4 || idA2 == idA {
		t.Fatalf("credential change: logins %d, same identity %v", p.logins.Load(), idA2 == idA)
	}
	cache.Invalidate(ctx, storeA)
	if _, _, _ = cache.Client(ctx, storeA, "gen2"); p.logins.Load() != 5 {
		t.Fatal("Invalidate did not drop the client")
	}
	cache.Close(ctx)
	if _, _, _ = cache.Client(ctx, storeA, "gen2"); p.logins.Load() != 6 {
		t.Fatal("Close did not drop the clients")
	}
}

// TestESODataHash pins the value ESO computes for a known map, so that
// Secrets written by ESO stay valid after migrating.
func TestESODataHash(t *testing.T) {
	got := syncer.ESODataHash(map[string][]byte{"b": []byte("2"), "a": []byte("1")})
	// ESO: fmt.Sprintf("%x", sha3.Sum224([]byte("map[a:[49] b:[50]]")))
	if want := "11bffda0250c76e915bd17398f34c2ea8f5125e5692cc05061807c31"; got != want {
		t.Fatalf("ESODataHash = %s, want %s", got, want)
	}
	if got != syncer.ESOObjectHash(map[string][]byte{"a": []byte("1"), "b": []byte("2")}) {
		t.Fatal("map order changed the hash")
	}
}

func TestReadsNotBefore(t *testing.T) {
	reads := syncer.NewReads(time.Hour)
	under := &countingClient{}
	c := reads.Wrap("id", under)
	ref := esv1.ExternalSecretDataRemoteRef{Key: "k"}
	if _, err := c.GetSecret(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	slot := time.Now().Add(time.Millisecond)
	time.Sleep(2 * time.Millisecond)
	ctx := syncer.WithNotBefore(context.Background(), slot)
	_, _ = c.GetSecret(ctx, ref)
	_, _ = c.GetSecret(ctx, ref)
	if n := under.calls.Load(); n != 2 {
		t.Fatalf("%d backend calls: a read from before the slot was reused, or the slot's read was not shared", n)
	}
}
