package policy

import (
	"fmt"
	"path/filepath"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/services/policy/rules"
)

// FromConfig loads the policy files that cfg lists, relative to the
// configuration file's directory, with the ingress's inspect limit as the
// bound on bodies for the rules' cost estimates.
func FromConfig(cfg *config.Config) (*rules.Set, error) {
	paths := make([]string, len(cfg.Policies))
	for i, p := range cfg.Policies {
		if !filepath.IsAbs(p) {
			p = filepath.Join(cfg.Dir(), p)
		}
		paths[i] = p
	}
	set, err := rules.Load(paths, rules.WithMaxBody(int64(cfg.Ingress.InspectLimit)))
	if err != nil {
		return nil, fmt.Errorf("loading policies: %w", err)
	}
	return set, nil
}
