package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/masker"
	"github.com/airlockhq/airlock/services/policy"
)

// errConfigProblems is returned by `airlock config check` when the file has
// problems; they have been printed already.
var errConfigProblems = errors.New("configuration has problems")

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with airlock.yaml"}
	var path string
	check := &cobra.Command{
		Use:   "check",
		Short: "Load and validate a configuration; print every problem with its line",
		Long: "check loads the file as every service does (environment expansion,\n" +
			"strict decoding, defaults, validation), then checks what only exists\n" +
			"outside it: the policy files compile, the NATS credentials and TLS files,\n" +
			"the S3 store's CA file and the connections' credential files can be read,\n" +
			"and each CA file holds a certificate. It prints every problem as\n" +
			"FILE:LINE: PATH: MESSAGE and exits non-zero if there is one;\n" +
			"otherwise it prints a summary. Unset credential variables are warnings:\n" +
			"such a connection starts and answers 503 until the variable is set.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return checkConfig(cmd.OutOrStdout(), path)
		},
	}
	configFlag(check, &path)
	cmd.AddCommand(check)
	return cmd
}

// checkConfig prints the problems of the file at path, or its summary.
func checkConfig(w io.Writer, path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		var ps config.Problems
		if !errors.As(err, &ps) {
			// Unreadable, not YAML, an unknown field: the error names its
			// line when the decoder knows it.
			fmt.Fprintf(w, "%s: %v\n", path, err)
			return errConfigProblems
		}
		printProblems(w, path, "", ps)
		return fmt.Errorf("%w: %d", errConfigProblems, len(ps))
	}
	ps, warnings := checkOutside(cfg)
	rules, detectors := 0, 0
	if len(ps) == 0 {
		set, err := policy.FromConfig(cfg)
		if err != nil {
			ps = append(ps, config.Problem{Path: "$.policies", Line: cfg.Line("$.policies"), Msg: err.Error()})
		} else {
			rules = set.Len()
		}
		// The masker's catalogue with the extra rules, built as the masker
		// builds it: a rule that does not compile is found here.
		m, err := masker.New(cfg, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			ps = append(ps, config.Problem{Path: "$.masking", Line: cfg.Line("$.masking"), Msg: err.Error()})
		} else {
			detectors = len(m.Rules())
		}
	}
	printProblems(w, path, "warning: ", warnings)
	if len(ps) > 0 {
		printProblems(w, path, "", ps)
		return fmt.Errorf("%w: %d", errConfigProblems, len(ps))
	}
	printSummary(w, path, cfg, rules, detectors)
	return nil
}

// checkOutside checks the files the configuration names. It returns the
// problems (a service would not start) and the warnings (it starts, with a
// connection refusing requests). Paths are resolved as the services
// resolve them.
func checkOutside(cfg *config.Config) (problems, warnings config.Problems) {
	add := func(to *config.Problems, path, format string, args ...any) {
		*to = append(*to, config.Problem{Path: path, Line: cfg.Line(path), Msg: fmt.Sprintf(format, args...)})
	}
	readable := func(path, file string) {
		if file == "" {
			return
		}
		f, err := os.Open(file)
		if err != nil {
			add(&problems, path, "cannot read %s: %v", file, errors.Unwrap(err))
			return
		}
		_ = f.Close()
	}
	// caFile checks a file of CA certificates as the clients load it.
	caFile := func(path, file string) {
		if file == "" {
			return
		}
		data, err := os.ReadFile(file)
		if err != nil {
			add(&problems, path, "cannot read %s: %v", file, errors.Unwrap(err))
			return
		}
		if !x509.NewCertPool().AppendCertsFromPEM(data) {
			add(&problems, path, "%s holds no PEM certificate", file)
		}
	}
	for i, p := range cfg.Policies {
		readable(fmt.Sprintf("$.policies[%d]", i), cfg.Path(p))
	}
	readable("$.masking.rules", cfg.Path(cfg.Masking.Rules))
	if cfg.NATS.URL != "" {
		readable("$.nats.creds", cfg.Path(cfg.NATS.Creds))
		caFile("$.nats.tls.ca", cfg.Path(cfg.NATS.TLS.CA))
		readable("$.nats.tls.cert", cfg.Path(cfg.NATS.TLS.Cert))
		readable("$.nats.tls.key", cfg.Path(cfg.NATS.TLS.Key))
	}
	if cfg.Recorder.S3.Enabled() {
		caFile("$.recorder.s3.ca", cfg.Path(cfg.Recorder.S3.CA))
	}
	for i, c := range cfg.Connections {
		p := fmt.Sprintf("$.connections[%d].credential", i)
		switch cr := c.Credential; {
		case cr.File != "":
			readable(p+".file", cr.File) // as the ingress reads it: from its working directory
		case cr.Env != "" && os.Getenv(cr.Env) == "":
			add(&warnings, p+".env", "%s is not set: connection %s answers 503 until it is", cr.Env, c.Name)
		case cr.Env == "" && cr.Value == "":
			add(&warnings, p, "no credential: connection %s answers 503", c.Name)
		}
	}
	return problems, warnings
}

// printProblems prints one line per problem, compiler style
// (FILE:LINE: PATH: MESSAGE), for editors to jump to.
func printProblems(w io.Writer, file, prefix string, ps config.Problems) {
	for _, p := range ps {
		if p.Line > 0 {
			fmt.Fprintf(w, "%s%s:%d: %s: %s\n", prefix, file, p.Line, p.Path, p.Msg)
		} else {
			fmt.Fprintf(w, "%s%s: %s: %s\n", prefix, file, p.Path, p.Msg)
		}
	}
}

func printSummary(w io.Writer, file string, cfg *config.Config, rules, detectors int) {
	conns := make([]string, len(cfg.Connections))
	for i, c := range cfg.Connections {
		conns[i] = c.Name + " (" + c.Type + ")"
	}
	issuers := fmt.Sprintf("%d issuers", len(cfg.Identity.Issuers))
	if cfg.Identity.DevIssuer.Enabled {
		issuers += " + the dev issuer"
	}
	bus := "embedded"
	if cfg.NATS.URL != "" {
		bus = cfg.NATS.URL
		switch {
		case cfg.NATS.User != "":
			bus += " as " + cfg.NATS.User
		case cfg.NATS.Creds != "":
			bus += " with a creds file"
		}
		if cfg.NATS.TLS.Enabled() {
			bus += ", TLS"
		}
	}
	fmt.Fprintf(w, "ok: %s\n", file)
	fmt.Fprintf(w, "  connections  %s\n", strings.Join(conns, ", "))
	fmt.Fprintf(w, "  identity     %s\n", issuers)
	files := "files"
	if len(cfg.Policies) == 1 {
		files = "file"
	}
	fmt.Fprintf(w, "  policies     %d rules in %d %s\n", rules, len(cfg.Policies), files)
	fmt.Fprintf(w, "  ingress      %s\n", cfg.Ingress.Listen)
	fmt.Fprintf(w, "  nats         %s\n", bus)
	masked := 0
	for _, c := range cfg.Connections {
		if c.MaskingOn() {
			masked++
		}
	}
	fmt.Fprintf(w, "  masking      %d detection rules, %d field rules, on %d of %d connections\n", detectors, len(cfg.Masking.Fields), masked, len(cfg.Connections))
	approvals := "airlock approvals only (no Slack)"
	if sl := cfg.Approvals.Slack; sl.Enabled() {
		mode := "HTTP at " + sl.Listen
		if sl.SigningSecret == "" {
			mode = "Socket Mode"
		}
		approvals = "Slack channel " + sl.Channel + ", " + mode
	}
	fmt.Fprintf(w, "  approvals    %s; %d approvers\n", approvals, len(cfg.Approvals.Approvers))
	recordings := "the embedded store (JetStream object store " + subject.RecordingsBucket + ")"
	if s3 := cfg.Recorder.S3; s3.Enabled() {
		recordings = "S3 " + s3.Endpoint + ", bucket " + s3.Bucket
	}
	if d := cfg.Recorder.RetentionDays; d > 0 {
		recordings += fmt.Sprintf(", kept %d days", d)
	}
	fmt.Fprintf(w, "  recordings   %s\n", recordings)
	fmt.Fprintf(w, "  admin        %s (airlock up), %s (ingress), %s (policy), %s (masker), %s (approver), %s (recorder)\n",
		cfg.Admin.Listen, cfg.Admin.Ingress, cfg.Admin.Policy, cfg.Admin.Masker, cfg.Admin.Approver, cfg.Admin.Recorder)
}
