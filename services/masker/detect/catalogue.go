//lint:file-ignore SA1019 gitleaks' default catalogue still uses the deprecated [allowlist] and [rules.allowlist] tables, which merging must fold into their [[…allowlists]] successors.

package detect

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
)

// ruleIDPattern is what a rule id may look like. The id ends up inside the
// mask placeholder, which must stay valid inside a JSON string and must not
// itself look like a secret, so quotes, backslashes and spaces are refused.
var ruleIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// loadConfig returns the gitleaks default catalogue (the gitleaks.toml that
// gitleaks embeds as config.DefaultConfig) with extra, a TOML document in the
// same format, merged into it the way gitleaks merges a configuration that
// extends the default: a rule with a new id is added; a rule with an id the
// catalogue has overrides its description, regex, secretGroup and entropy
// when set, and adds its keywords, tags and allowlists; global allowlists are
// added; [extend] disabledRules removes catalogue rules.
//
// Both documents go through gitleaks' own config.ViperConfig.Translate, so
// keyword case, allowlist conditions and targetRules behave as in gitleaks.
// A private viper instance is used: gitleaks' global one is left alone.
func loadConfig(extra string) (config.Config, error) {
	base, err := readViperConfig(config.DefaultConfig)
	if err != nil {
		return config.Config{}, fmt.Errorf("reading the gitleaks default config: %w", err)
	}
	if strings.TrimSpace(extra) != "" {
		ext, err := readViperConfig(extra)
		if err != nil {
			return config.Config{}, fmt.Errorf("reading the extra config: %w", err)
		}
		if err := validateExtra(ext); err != nil {
			return config.Config{}, fmt.Errorf("validating the extra config: %w", err)
		}
		merge(base, ext)
	}
	return translate(base)
}

func readViperConfig(doc string) (*config.ViperConfig, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(doc)); err != nil {
		return nil, fmt.Errorf("parsing toml: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, fmt.Errorf("decoding toml: %w", err)
	}
	return &vc, nil
}

// validateExtra reports what gitleaks' Translate would panic on (it compiles
// with regexp.MustCompile) and what Airlock does not support, all at once.
func validateExtra(vc *config.ViperConfig) error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	compiles := func(where, expr string) {
		if _, err := regexp.Compile(expr); err != nil {
			bad("%s: %v", where, err)
		}
	}
	if vc.Extend.Path != "" || vc.Extend.URL != "" {
		bad("[extend] path and url are not supported: extra rules always extend the default catalogue")
	}
	for i, r := range vc.Rules {
		where := fmt.Sprintf("rule %d (%q)", i+1, r.ID)
		if !ruleIDPattern.MatchString(r.ID) {
			bad("%s: id must match %s", where, ruleIDPattern)
		}
		if r.Regex != "" {
			compiles(where+" regex", r.Regex)
		}
		if r.Path != "" {
			compiles(where+" path", r.Path)
		}
		if len(r.Required) > 0 {
			bad("%s: composite rules ([[rules.required]]) are not supported", where)
		}
		lists := r.Allowlists
		if r.AllowList != nil {
			lists = append(lists, r.AllowList)
		}
		for _, a := range lists {
			for _, re := range a.Regexes {
				compiles(where+" allowlist regex", re)
			}
			for _, re := range a.Paths {
				compiles(where+" allowlist path", re)
			}
		}
	}
	globals := vc.Allowlists
	if vc.AllowList != nil {
		globals = append(globals, vc.AllowList)
	}
	for i, a := range globals {
		for _, re := range a.Regexes {
			compiles(fmt.Sprintf("allowlist %d regex", i+1), re)
		}
		for _, re := range a.Paths {
			compiles(fmt.Sprintf("allowlist %d path", i+1), re)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// merge folds ext into base with the semantics of gitleaks' Config.extend,
// applied before translation so that a targetRules allowlist in ext may name
// a catalogue rule. (The element types of ViperConfig's slices are
// unexported or anonymous, hence the index loops.)
func merge(base, ext *config.ViperConfig) {
	if len(ext.Extend.DisabledRules) > 0 {
		kept := base.Rules[:0]
		for _, r := range base.Rules {
			if !slices.Contains(ext.Extend.DisabledRules, r.ID) {
				kept = append(kept, r)
			}
		}
		base.Rules = kept
	}
	for _, er := range ext.Rules {
		i := -1
		for j := range base.Rules {
			if base.Rules[j].ID == er.ID {
				i = j
				break
			}
		}
		if i < 0 {
			base.Rules = append(base.Rules, er)
			continue
		}
		br := &base.Rules[i]
		if er.Description != "" {
			br.Description = er.Description
		}
		if er.Entropy != 0 {
			br.Entropy = er.Entropy
		}
		if er.SecretGroup != 0 {
			br.SecretGroup = er.SecretGroup
		}
		if er.Regex != "" {
			br.Regex = er.Regex
		}
		if er.Path != "" {
			br.Path = er.Path
		}
		br.Tags = append(br.Tags, er.Tags...)
		br.Keywords = append(br.Keywords, er.Keywords...)
		// Translate refuses the deprecated [rules.allowlist] alongside
		// [[rules.allowlists]]: fold both into the latter.
		if br.AllowList != nil {
			br.Allowlists = append(br.Allowlists, br.AllowList)
			br.AllowList = nil
		}
		br.Allowlists = append(br.Allowlists, er.Allowlists...)
		if er.AllowList != nil {
			br.Allowlists = append(br.Allowlists, er.AllowList)
		}
	}
	// The same for the global [allowlist] (the default catalogue uses it).
	if base.AllowList != nil {
		base.Allowlists = append(base.Allowlists, base.AllowList)
		base.AllowList = nil
	}
	if ext.AllowList != nil {
		base.Allowlists = append(base.Allowlists, ext.AllowList)
	}
	base.Allowlists = append(base.Allowlists, ext.Allowlists...)
}

// translate runs gitleaks' own translation, turning a panic (an invalid
// regular expression slipping past validateExtra) into an error.
func translate(vc *config.ViperConfig) (cfg config.Config, err error) {
	vc.Extend = config.Extend{}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("translating the config: %v", r)
		}
	}()
	cfg, err = vc.Translate()
	if err != nil {
		return config.Config{}, fmt.Errorf("translating the config: %w", err)
	}
	return cfg, nil
}
