package cmp

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/cmp/placeholder"
	"github.com/sealsync/sealsync/internal/sopsx"
)

// StoreMap is the operator's mapping, for reference mode, from an Argo CD
// project and a path prefix (argocd-vault-plugin's form, secret/data/x) to
// the SecretStore or ClusterSecretStore the controller reads it from, and
// the key that store gives it. It is a file the sidecar mounts
// (SEALSYNC_STORES_FILE):
//
//	refreshInterval: 1h          # default of every ExternalSecret
//	projects:
//	  team-a:                    # ARGOCD_APP_PROJECT_NAME
//	  - path: secret/data/team-a # this path and those under it
//	    key: team-a              # what the store calls it (default: path)
//	    kvVersion: "2"           # optional: only for objects of this kv-version
//	    store:
//	      kind: ClusterSecretStore
//	      name: vault-team-a
//	    refreshInterval: 15m     # optional default for this store
//
// A path with no mapping in its project is an error, never a guess.
type StoreMap struct {
	// RefreshInterval is the default refreshInterval of the
	// ExternalSecrets the plugin makes.
	RefreshInterval metav1.Duration `json:"refreshInterval,omitzero"`
	// Projects map a project's name to its mappings.
	Projects map[string][]StoreMapping `json:"projects"`
}

// StoreMapping maps one path prefix of a project.
type StoreMapping struct {
	// Path is a path prefix in argocd-vault-plugin's form, matched by
	// whole segments.
	Path string `json:"path"`
	// Key replaces Path in the keys the store reads; empty keeps it.
	Key string `json:"key,omitempty"`
	// KVVersion, when set, limits the mapping to objects whose
	// avp.kubernetes.io/kv-version is the same ("1" or "2") or that set
	// none.
	KVVersion string `json:"kvVersion,omitempty"`
	// Store is the store's kind and name.
	Store esv1.SecretStoreRef `json:"store"`
	// RefreshInterval is a default for ExternalSecrets reading this
	// store; zero for the file's.
	RefreshInterval metav1.Duration `json:"refreshInterval,omitzero"`
}

// DefaultRefreshInterval is the refreshInterval of a reference when
// neither the mapping file nor the object sets one: ESO's default.
const DefaultRefreshInterval = time.Hour

// ErrNoMapping is wrapped when reference mode has no store for a path.
var ErrNoMapping = errors.New("no store is mapped")

// LoadStoreMap reads and checks a mapping file.
func LoadStoreMap(file string) (*StoreMap, error) {
	b, err := readLimited(file)
	if err != nil {
		return nil, fmt.Errorf("stores file: %w", err)
	}
	return ParseStoreMap(b)
}

// ParseStoreMap parses and checks a mapping file's content.
func ParseStoreMap(b []byte) (*StoreMap, error) {
	var m StoreMap
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		return nil, fmt.Errorf("stores file: %w", err)
	}
	if m.RefreshInterval.Duration < 0 {
		return nil, errors.New("stores file: refreshInterval is negative")
	}
	if m.RefreshInterval.Duration == 0 {
		m.RefreshInterval.Duration = DefaultRefreshInterval
	}
	for project, maps := range m.Projects {
		if err := sopsx.ValidateProject(project); err != nil {
			return nil, fmt.Errorf("stores file: %w", err)
		}
		for i, e := range maps {
			at := fmt.Sprintf("stores file: projects.%s[%d]", project, i)
			if err := checkPath(e.Path); err != nil {
				return nil, fmt.Errorf("%s: path: %w", at, err)
			}
			if e.Key != "" {
				if err := checkPath(e.Key); err != nil {
					return nil, fmt.Errorf("%s: key: %w", at, err)
				}
			}
			switch e.KVVersion {
			case "", "1", "2":
			default:
				return nil, fmt.Errorf("%s: kvVersion must be 1 or 2", at)
			}
			switch e.Store.Kind {
			case esv1.SecretStoreKind, esv1.ClusterSecretStoreKind:
			default:
				return nil, fmt.Errorf("%s: store.kind must be %s or %s", at, esv1.SecretStoreKind, esv1.ClusterSecretStoreKind)
			}
			if errs := validation.IsDNS1123Subdomain(e.Store.Name); len(errs) > 0 {
				return nil, fmt.Errorf("%s: store.name: %s", at, strings.Join(errs, "; "))
			}
			if e.RefreshInterval.Duration < 0 {
				return nil, fmt.Errorf("%s: refreshInterval is negative", at)
			}
			maps[i].Path = strings.Trim(e.Path, "/")
			maps[i].Key = strings.Trim(e.Key, "/")
		}
		// Longest prefix first.
		slices.SortStableFunc(maps, func(a, b StoreMapping) int { return len(b.Path) - len(a.Path) })
	}
	return &m, nil
}

// checkPath refuses an empty path and empty, "." or ".." segments: a
// mapping is by prefix, and such a segment could leave it when the store
// resolves the path.
func checkPath(p string) error {
	p = strings.Trim(p, "/")
	if p == "" {
		return errors.New("empty")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%q has an empty, . or .. segment", p)
		}
	}
	return nil
}

// Map returns where the controller reads ref for project: the mapping of
// the longest prefix of ref.Path (by whole segments) whose kvVersion, if
// set, is ref's. The error names the project and the path.
func (m *StoreMap) Map(project string, ref placeholder.Ref) (placeholder.Target, error) {
	if err := checkPath(ref.Path); err != nil {
		return placeholder.Target{}, fmt.Errorf("path %s: %w", ref.Path, err)
	}
	p := strings.Trim(ref.Path, "/")
	for _, e := range m.Projects[project] {
		rest, ok := strings.CutPrefix(p, e.Path)
		if !ok || (rest != "" && rest[0] != '/') {
			continue
		}
		if e.KVVersion != "" && ref.KVVersion != "" && e.KVVersion != ref.KVVersion {
			continue
		}
		key := p
		if e.Key != "" {
			key = e.Key + rest
		}
		return placeholder.Target{Store: e.Store, Key: key, RefreshInterval: e.RefreshInterval.Duration}, nil
	}
	what := "path " + ref.Path
	if ref.KVVersion != "" {
		what += " (kv-version " + ref.KVVersion + ")"
	}
	return placeholder.Target{}, fmt.Errorf("%w for project %q and %s: the operator maps it in SEALSYNC_STORES_FILE", ErrNoMapping, project, what)
}
