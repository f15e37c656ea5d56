package cmp

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sealsync/sealsync/internal/cmp/placeholder"
)

// PlaceholderMode is what the plugin makes of a Secret's placeholders.
type PlaceholderMode int

const (
	// Resolve reads every placeholder's value from the project's store
	// and writes it into the Secret (then sealed, or plain).
	Resolve PlaceholderMode = iota
	// Reference turns a Secret with placeholders into an ExternalSecret
	// that the controller on the destination cluster syncs: the plugin
	// reads nothing and holds no store credentials.
	Reference
)

// ParsePlaceholderMode parses "resolve" or "reference".
func ParsePlaceholderMode(s string) (PlaceholderMode, error) {
	switch s {
	case "resolve":
		return Resolve, nil
	case "reference":
		return Reference, nil
	}
	return 0, fmt.Errorf("placeholders %q: must be resolve or reference", s)
}

func (m PlaceholderMode) String() string {
	if m == Reference {
		return "reference"
	}
	return "resolve"
}

// referenceSecrets replaces every Secret whose placeholders name the
// project's store by the ExternalSecret that makes it (reference mode).
// A Secret whose placeholders all name SOPS files of the source keeps
// the resolve-and-seal path: those values are in the source, not in a
// store. Placeholders outside Secrets are refused unless the operator
// lets them be resolved (AllowPlaceholdersOutsideSecrets).
func referenceSecrets(cfg Config, env Env, local func(path string) bool, objs []*unstructured.Unstructured) error {
	for i, o := range objs {
		info, err := placeholder.Inspect(o)
		if err != nil {
			return err
		}
		if info.Placeholders == 0 {
			continue
		}
		secret, err := isSecret(o)
		if err != nil {
			return err
		}
		if !secret {
			if cfg.AllowPlaceholdersOutsideSecrets {
				continue
			}
			return fmt.Errorf("%s %s: %s holds a placeholder: reference mode makes ExternalSecrets of Secrets only, and outside a Secret the value would reach Argo CD in plain text (the operator sets SEALSYNC_ALLOW_PLACEHOLDERS_OUTSIDE_SECRETS=true to resolve it here)", o.GetKind(), placeholder.ObjectName(o), info.Field)
		}
		var inSource int
		for _, r := range info.Refs {
			if local(r.Path) {
				inSource++
			}
		}
		switch {
		case inSource == len(info.Refs):
			// SOPS files of the source: resolved and sealed.
			continue
		case inSource > 0:
			return fmt.Errorf("the Secret %s: placeholders name both SOPS files of the source and the store: reference mode cannot make one Secret of both; split it in two", placeholder.ObjectName(o))
		}
		if env.Project == "" {
			return errors.New("reference mode needs the project to choose a store, and ARGOCD_APP_PROJECT_NAME is not set (Argo CD before 3.0 does not pass it)")
		}
		if cfg.Stores == nil {
			return fmt.Errorf("%w: reference mode needs the operator's SEALSYNC_STORES_FILE", ErrNoMapping)
		}
		ns := o.GetNamespace()
		if ns == "" {
			ns = env.AppNamespace
		}
		if err := checkNamespace(cfg, env, ns); err != nil {
			return fmt.Errorf("the Secret %s: %w", placeholder.ObjectName(o), err)
		}
		es, err := placeholder.ToExternalSecret(o, placeholder.ReferenceOptions{
			Map:             func(ref placeholder.Ref) (placeholder.Target, error) { return cfg.Stores.Map(env.Project, ref) },
			Namespace:       ns,
			RefreshInterval: cfg.Stores.RefreshInterval.Duration,
		})
		if err != nil {
			return err
		}
		objs[i] = es
	}
	return nil
}

// checkNamespace refuses a namespace other than the destination, unless
// the operator allows any.
func checkNamespace(cfg Config, env Env, ns string) error {
	switch {
	case cfg.AllowAnyNamespace:
		return nil
	case env.AppNamespace == "":
		return errors.New("ARGOCD_APP_NAMESPACE is not set: no destination namespace")
	case ns != env.AppNamespace:
		return fmt.Errorf("namespace %s is not the application's destination %s (the operator sets SEALSYNC_ALLOW_ANY_NAMESPACE=true to allow it)", ns, env.AppNamespace)
	}
	return nil
}
