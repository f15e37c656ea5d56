package externalsecrets

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/providers"
)

// jwtWith is an unsigned JWT with payload as its claims.
func jwtWith(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

// tokenAudienceCases are API server answers (trusted input) to a
// no-audience TokenRequest, well formed or not.
var tokenAudienceCases = []struct {
	name  string
	token string
	want  []string // nil: an error
}{
	{"aud array", jwtWith(`{"aud":["https://kubernetes.default.svc.cluster.local","k3s"],"sub":"system:serviceaccount:ns:sa"}`), []string{"https://kubernetes.default.svc.cluster.local", "k3s"}},
	{"aud string (RFC 7519 allows one)", jwtWith(`{"aud":"https://kubernetes.default.svc"}`), []string{"https://kubernetes.default.svc"}},
	{"aud array of one", jwtWith(`{"aud":["api"]}`), []string{"api"}},
	{"other claims of any type", jwtWith(`{"iss":1,"kubernetes.io":{"namespace":"ns"},"aud":["api"]}`), []string{"api"}},
	{"no aud", jwtWith(`{"sub":"x"}`), nil},
	{"aud under another case", jwtWith(`{"AUD":["api"]}`), nil},
	{"aud null", jwtWith(`{"aud":null}`), nil},
	{"aud empty array", jwtWith(`{"aud":[]}`), nil},
	{"aud empty string", jwtWith(`{"aud":""}`), nil},
	{"aud array with an empty string", jwtWith(`{"aud":["api",""]}`), nil},
	{"aud array with null", jwtWith(`{"aud":["api",null]}`), nil},
	{"aud number", jwtWith(`{"aud":7}`), nil},
	{"aud array with a number", jwtWith(`{"aud":["api",7]}`), nil},
	{"aud object", jwtWith(`{"aud":{"a":"b"}}`), nil},
	{"payload a JSON array", jwtWith(`["aud"]`), nil},
	{"payload not JSON", jwtWith(`aud`), nil},
	{"payload padded base64", strings.Replace(jwtWith(`{"aud":["api"]}`), ".c2ln", "=.c2ln", 1), nil},
	{"payload standard base64", "e30." + base64.RawStdEncoding.EncodeToString([]byte(`{"aud":["??>"]}`)) + ".c2ln", nil},
	{"two parts", "e30.e30", nil},
	{"four parts", jwtWith(`{"aud":["api"]}`) + ".x", nil},
	{"empty", "", nil},
	{"too long", jwtWith(`{"aud":["api"],"pad":"` + strings.Repeat("a", maxTokenBytes) + `"}`), nil},
}

// TestTokenAudiences: the aud claim of the API server's answer (trusted
// input, parsed without checking the signature) as one string or an array
// of strings; anything else is an error that quotes nothing of the token.
func TestTokenAudiences(t *testing.T) {
	for _, tt := range tokenAudienceCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tokenAudiences(tt.token)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("tokenAudiences = %q, want an error", got)
				}
				if strings.Contains(err.Error(), "api") || strings.Contains(err.Error(), "c2ln") {
					t.Errorf("error %q quotes the token", err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("tokenAudiences = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// FuzzTokenAudiences: whatever the API server answers, the parser neither
// panics nor returns an empty audience, and what it returns is what a
// token carrying those audiences as an array yields again.
func FuzzTokenAudiences(f *testing.F) {
	for _, tt := range tokenAudienceCases {
		f.Add(tt.token)
	}
	f.Fuzz(func(t *testing.T, token string) {
		aud, err := tokenAudiences(token)
		if err != nil {
			return
		}
		if len(aud) == 0 || slices.Contains(aud, "") {
			t.Fatalf("tokenAudiences(%q) = %q", token, aud)
		}
		b, err := json.Marshal(map[string][]string{"aud": aud})
		if err != nil {
			t.Fatal(err)
		}
		again, err := tokenAudiences(jwtWith(string(b)))
		if err != nil || !slices.Equal(again, aud) {
			t.Fatalf("round trip of %q: %q, %v", aud, again, err)
		}
	})
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeMinter plays the API server's TokenRequest API for no-audience
// tokens (trusted input): it records whom each token was for and answers
// with answer, which the test may change.
type fakeMinter struct {
	mu     sync.Mutex
	calls  []types.NamespacedName
	answer func(sa types.NamespacedName) (string, error)
}

func (m *fakeMinter) mint(_ context.Context, sa types.NamespacedName) (string, error) {
	m.mu.Lock()
	m.calls = append(m.calls, sa)
	answer := m.answer
	m.mu.Unlock()
	return answer(sa)
}

func (m *fakeMinter) called() []types.NamespacedName {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

func (m *fakeMinter) set(answer func(sa types.NamespacedName) (string, error)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.answer = answer
}

var apiAudToken = jwtWith(`{"aud":["https://kubernetes.default.svc","api"]}`)

func answerToken(token string) func(types.NamespacedName) (string, error) {
	return func(types.NamespacedName) (string, error) { return token, nil }
}

func newTestAPIAudiences(self *types.NamespacedName, answer func(types.NamespacedName) (string, error)) (*apiAudiences, *fakeMinter, *fakeClock) {
	m := &fakeMinter{answer: answer}
	c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return &apiAudiences{mint: m.mint, self: self, now: c.Now}, m, c
}

var (
	tenantSA = types.NamespacedName{Namespace: "tenant", Name: "reader"}
	otherSA  = types.NamespacedName{Namespace: "other", Name: "reader"}
	ownSA    = types.NamespacedName{Namespace: "sealsync", Name: "sealsync-controller"}
)

// TestRefuseAPIServerAudience: the requested audiences are tenant input
// (a store's serviceAccountRef.audiences); the API server's are learned
// from its answer (trusted). Any overlap is refused, naming the audience.
func TestRefuseAPIServerAudience(t *testing.T) {
	tests := []struct {
		name      string
		audiences []string
		refused   string // "" when allowed
	}{
		{"default audience", []string{"vault"}, ""},
		{"another audience", []string{"https://vault.example.com"}, ""},
		{"the API server's", []string{"https://kubernetes.default.svc"}, `"https://kubernetes.default.svc"`},
		{"the API server's second", []string{"vault", "api"}, `"api"`},
		{"a prefix of the API server's", []string{"https://kubernetes.default"}, ""},
	}
	a, m, _ := newTestAPIAudiences(nil, answerToken(apiAudToken))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.refuse(context.Background(), tenantSA, tt.audiences)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("refuse(%q) = %v, want nil", tt.audiences, err)
				}
				return
			}
			if !errors.Is(err, providers.ErrAPIServerAudience) || !strings.Contains(err.Error(), "audience "+tt.refused+" is refused") {
				t.Fatalf("refuse(%q) = %v, want ErrAPIServerAudience naming %s", tt.audiences, err, tt.refused)
			}
		})
	}
	if n := len(m.called()); n != 1 {
		t.Errorf("learned %d times, want once", n)
	}
}

// TestStoreKubeRefusesAPIServerAudience: both ways to a token refuse an
// audience the API server accepts before the token is requested (the
// storeKube has no API client: a request would panic). The store spec's
// audiences are tenant input; the API server's answer is trusted.
func TestStoreKubeRefusesAPIServerAudience(t *testing.T) {
	a, _, _ := newTestAPIAudiences(nil, answerToken(apiAudToken))
	self := ownSA
	k := newStoreKube(nil, nil, providers.Store{Kind: esv1.ClusterSecretStoreKind, Name: "s", Namespace: "tenant"}, &self, a)
	aud := []string{"vault", "https://kubernetes.default.svc"}
	_, err := k.ServiceAccountToken(context.Background(), esmeta.ServiceAccountSelector{Name: "deployer"}, aud, 0)
	if !errors.Is(err, providers.ErrAPIServerAudience) || !strings.Contains(err.Error(), `"https://kubernetes.default.svc"`) {
		t.Errorf("ServiceAccountToken: %v, want ErrAPIServerAudience", err)
	}
	_, err = k.ControllerToken(context.Background(), aud)
	if !errors.Is(err, providers.ErrAPIServerAudience) {
		t.Errorf("ControllerToken: %v, want ErrAPIServerAudience", err)
	}
}

// TestAPIAudiencesLearnOnce: many stores asking at once share one
// TokenRequest, and later ones use the cached answer.
func TestAPIAudiencesLearnOnce(t *testing.T) {
	release := make(chan struct{})
	a, m, _ := newTestAPIAudiences(nil, func(types.NamespacedName) (string, error) {
		<-release
		return apiAudToken, nil
	})
	const n = 16
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sa := tenantSA
			if i%2 == 1 {
				sa = otherSA
			}
			if aud, err := a.accepted(context.Background(), sa); err == nil && slices.Contains(aud, "api") {
				ok.Add(1)
			}
		}()
	}
	close(release)
	wg.Wait()
	if _, err := a.accepted(context.Background(), tenantSA); err != nil {
		t.Fatal(err)
	}
	if got := ok.Load(); got != n {
		t.Errorf("%d of %d callers got the audiences", got, n)
	}
	if calls := m.called(); len(calls) != 1 {
		t.Errorf("%d TokenRequests, want 1", len(calls))
	}
}

// TestAPIAudiencesRetry: after a failure the same ServiceAccount gets the
// error without a new request until the backoff has passed; another
// ServiceAccount (another tenant's store) tries at once. Success is cached
// until audienceRefresh; a failed refresh keeps what was learned.
func TestAPIAudiencesRetry(t *testing.T) {
	a, m, clock := newTestAPIAudiences(nil, func(types.NamespacedName) (string, error) {
		return "", errors.New("serviceaccounts \"reader\" not found")
	})
	ctx := context.Background()
	step := func(name string, sa types.NamespacedName, wantErr bool, wantCalls int) {
		t.Helper()
		_, err := a.accepted(ctx, sa)
		if (err != nil) != wantErr {
			t.Fatalf("%s: error %v, want error %v", name, err, wantErr)
		}
		if calls := len(m.called()); calls != wantCalls {
			t.Fatalf("%s: %d TokenRequests in all, want %d", name, calls, wantCalls)
		}
	}
	step("first failure", tenantSA, true, 1)
	step("same account during backoff", tenantSA, true, 1)
	step("another account", otherSA, true, 2)
	clock.Add(audienceBackoffMax)
	m.set(answerToken(apiAudToken))
	step("after the backoff", tenantSA, false, 3)
	clock.Add(audienceRefresh - time.Second)
	step("cached", otherSA, false, 3)
	clock.Add(time.Second)
	m.set(func(types.NamespacedName) (string, error) { return "", errors.New("unavailable") })
	step("failed refresh keeps the audiences", otherSA, false, 4)
	step("no new request during the backoff", tenantSA, false, 4)
	clock.Add(audienceBackoffMax)
	m.set(answerToken(jwtWith(`{"aud":["new"]}`)))
	step("refresh after the backoff", tenantSA, false, 5)
	if aud, _ := a.accepted(ctx, tenantSA); !slices.Equal(aud, []string{"new"}) {
		t.Errorf("after the refresh: %q", aud)
	}
}

// TestAPIAudiencesOwnServiceAccount: a controller running as a
// ServiceAccount learns with its own token, not the store's; if that
// fails (the operator's RBAC), it falls back to the store's.
func TestAPIAudiencesOwnServiceAccount(t *testing.T) {
	self := ownSA
	a, m, _ := newTestAPIAudiences(&self, answerToken(apiAudToken))
	if _, err := a.accepted(context.Background(), tenantSA); err != nil {
		t.Fatal(err)
	}
	if calls := m.called(); !slices.Equal(calls, []types.NamespacedName{ownSA}) {
		t.Errorf("tokens for %v, want the controller's own only", calls)
	}

	a, m, _ = newTestAPIAudiences(&self, func(sa types.NamespacedName) (string, error) {
		if sa == ownSA {
			return "", errors.New("forbidden")
		}
		return apiAudToken, nil
	})
	if _, err := a.accepted(context.Background(), tenantSA); err != nil {
		t.Fatal(err)
	}
	if calls := m.called(); !slices.Equal(calls, []types.NamespacedName{ownSA, tenantSA}) {
		t.Errorf("tokens for %v, want the controller's own, then the store's", calls)
	}
}

// TestAPIAudiencesWaitEndsWithContext: a store whose context ends stops
// waiting for a slow API server; the learning goes on and serves the
// next store.
func TestAPIAudiencesWaitEndsWithContext(t *testing.T) {
	release := make(chan struct{})
	a, m, _ := newTestAPIAudiences(nil, func(types.NamespacedName) (string, error) {
		<-release
		return apiAudToken, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.accepted(ctx, tenantSA); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	close(release)
	if _, err := a.accepted(context.Background(), otherSA); err != nil {
		t.Fatal(err)
	}
	if calls := m.called(); len(calls) != 1 {
		t.Errorf("%d TokenRequests, want 1", len(calls))
	}
}
