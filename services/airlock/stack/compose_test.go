package stack

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/airlockhq/airlock/pkg/config"
)

// The compose stack's files, relative to the repository's root.
const (
	composeFile       = "docker-compose.yml"
	composeEnvExample = ".env.example"
	composeAirlockCfg = "deploy/compose/airlock.yaml"
	composeNATSConf   = "deploy/nats/nats.conf"
	composeDockerfile = "deploy/Dockerfile"
)

// composeAirlock are the compose stack's Airlock services, each with the
// NATS user it runs as.
var composeAirlock = map[string]string{
	"provision": "admin",
	"ingress":   "ingress",
	"policy":    "policy",
	"masker":    "masker",
	"approver":  "approver",
	"recorder":  "recorder",
}

// composeOneShot are the jobs that run once and exit.
var composeOneShot = []string{"provision", "minio-init"}

// composeHealthcheck is every long-running Airlock service's health check:
// its own binary probing its /readyz (the images have no shell).
var composeHealthcheck = []string{"CMD", "/usr/local/bin/service", "-config", "/etc/airlock/compose/airlock.yaml", "-healthcheck"}

// TestComposeFile loads docker-compose.yml as docker compose does, with
// the variables of .env.example (empty ones filled with dummies), and
// checks what the stack relies on: official pinned images, one distroless
// nonroot image per Airlock service, health checks and restart policies,
// the start order, each service as its own NATS user, and a configuration
// every container loads with the environment it is given. Nothing is run:
// this machine has no Docker.
func TestComposeFile(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	example := composeDummyEnv(t, filepath.Join(root, composeEnvExample))
	project := loadCompose(t, root, example)
	services := project.Services

	t.Run("services", func(t *testing.T) {
		want := []string{"approver", "ingress", "masker", "minio", "minio-init", "nats", "policy", "provision", "recorder"}
		if got := slices.Sorted(maps.Keys(services)); !slices.Equal(got, want) {
			t.Errorf("services = %v, want %v", got, want)
		}
		if len(project.DisabledServices) > 0 {
			t.Errorf("services behind a profile: %v", slices.Sorted(maps.Keys(project.DisabledServices)))
		}
	})

	t.Run("official images", func(t *testing.T) {
		for _, c := range []struct{ name, prefix string }{
			{"nats", "nats:"},
			{"minio", "minio/minio:RELEASE."},
			{"minio-init", "minio/mc:RELEASE."},
		} {
			s := services[c.name]
			image := s.Image
			tag := image[strings.LastIndex(image, ":")+1:]
			switch {
			case !strings.HasPrefix(image, c.prefix) || strings.Contains(tag, "latest"):
				t.Errorf("%s: image %q: want the official %s… pinned to a release, never latest", c.name, image, c.prefix)
			case c.name == "nats" && (tag == "" || tag[0] < '0' || tag[0] > '9' || !strings.Contains(tag, "alpine")):
				t.Errorf("nats: image %q: want a version's alpine tag (the health check runs wget)", image)
			case c.name == "nats" && !strings.HasPrefix(tag, natsServerMinor()+"."):
				t.Errorf("nats: image %q: want the %s release line, which the tests run nats.conf with", image, natsServerMinor())
			}
			if s.Build != nil {
				t.Errorf("%s: builds an image; want the official one", c.name)
			}
		}
	})

	t.Run("airlock images", func(t *testing.T) {
		for _, name := range slices.Sorted(maps.Keys(composeAirlock)) {
			b := services[name].Build
			want := name
			if name == "provision" {
				want = "airlock" // the CLI: airlock provision
			}
			switch {
			case b == nil:
				t.Errorf("%s: no build: want %s with SERVICE=%s", name, composeDockerfile, want)
			case b.Context != root || b.Dockerfile != composeDockerfile:
				t.Errorf("%s: builds %s in %s, want %s in the repository's root", name, b.Dockerfile, b.Context, composeDockerfile)
			case b.Args["SERVICE"] == nil || *b.Args["SERVICE"] != want:
				t.Errorf("%s: build arg SERVICE = %q, want %s", name, deref(b.Args["SERVICE"]), want)
			}
		}
		checkDockerfile(t, filepath.Join(root, composeDockerfile))
	})

	t.Run("health and restart", func(t *testing.T) {
		for _, name := range slices.Sorted(maps.Keys(services)) {
			s := services[name]
			if slices.Contains(composeOneShot, name) {
				if s.Restart != types.RestartPolicyNo {
					t.Errorf("%s: restart %q: a one-shot job wants \"no\"", name, s.Restart)
				}
				continue
			}
			if hc := s.HealthCheck; hc == nil || hc.Disable || len(hc.Test) < 2 || (hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL") {
				t.Errorf("%s: no health check with a test", name)
			} else if _, ok := composeAirlock[name]; ok && !slices.Equal(hc.Test, composeHealthcheck) {
				t.Errorf("%s: health check %q, want %q", name, hc.Test, composeHealthcheck)
			}
			if s.Restart == "" || s.Restart == types.RestartPolicyNo {
				t.Errorf("%s: restart %q: a long-running service wants a restart policy", name, s.Restart)
			}
		}
	})

	t.Run("start order", func(t *testing.T) {
		healthy, done := types.ServiceConditionHealthy, types.ServiceConditionCompletedSuccessfully
		type edge struct{ from, to, condition string }
		edges := []edge{
			{"provision", "nats", healthy},
			{"minio-init", "minio", healthy},
			{"recorder", "minio-init", done},
			{"ingress", "policy", healthy},
			{"ingress", "masker", healthy},
		}
		for name := range composeAirlock {
			if name != "provision" {
				edges = append(edges, edge{name, "nats", healthy}, edge{name, "provision", done})
			}
		}
		for _, e := range edges {
			if d, ok := services[e.from].DependsOn[e.to]; !ok || d.Condition != e.condition {
				t.Errorf("%s: depends_on %s: condition %q, want %q", e.from, e.to, d.Condition, e.condition)
			}
		}
	})

	t.Run("nats users", func(t *testing.T) {
		// The server's configuration, with the server container's environment.
		for k, v := range services["nats"].Environment {
			t.Setenv(k, deref(v))
		}
		opts, err := server.ProcessConfigFile(filepath.Join(root, composeNATSConf))
		if err != nil {
			t.Fatalf("nats: %s with its environment: %v", composeNATSConf, err)
		}
		passwords := map[string]string{}
		for _, u := range opts.Users {
			passwords[u.Username] = u.Password
		}
		for _, name := range slices.Sorted(maps.Keys(composeAirlock)) {
			user, env := composeAirlock[name], services[name].Environment
			if got := deref(env["AIRLOCK_NATS_USER"]); got != user {
				t.Errorf("%s: AIRLOCK_NATS_USER = %q, want its own user %q", name, got, user)
			}
			if pw, ok := passwords[user]; !ok {
				t.Errorf("%s: user %q is not in %s", name, user, composeNATSConf)
			} else if deref(env["AIRLOCK_NATS_PASSWORD"]) != pw {
				t.Errorf("%s: AIRLOCK_NATS_PASSWORD is not the password %s gives %s", name, composeNATSConf, user)
			}
			// Least privilege holds only if no container can log in as
			// another service.
			for k, v := range env {
				for other, pw := range passwords {
					if other != user && deref(v) == pw {
						t.Errorf("%s: %s is %s's NATS password: a container gets its own only", name, k, other)
					}
				}
			}
		}
		for _, name := range slices.Sorted(maps.Keys(services)) {
			// .env holds every password: env_file would hand them all over.
			for _, f := range services[name].EnvFiles {
				t.Errorf("%s: env_file %s: pass the variables it needs in environment instead", name, f.Path)
			}
			if _, ok := composeAirlock[name]; ok || name == "nats" {
				continue
			}
			for k, v := range services[name].Environment {
				for user, pw := range passwords {
					if deref(v) == pw {
						t.Errorf("%s: %s is %s's NATS password", name, k, user)
					}
				}
			}
		}
	})

	t.Run("config paths", func(t *testing.T) {
		for _, name := range slices.Sorted(maps.Keys(services)) {
			s := services[name]
			args := slices.Clone(s.Command)
			if s.HealthCheck != nil {
				args = append(args, s.HealthCheck.Test...)
			}
			found := 0
			for i, a := range args[:max(len(args)-1, 0)] {
				if a != "-config" && a != "--config" && a != "-c" {
					continue
				}
				found++
				rel, ok := strings.CutPrefix(args[i+1], "/etc/airlock/")
				if !ok {
					t.Errorf("%s: %s is not under /etc/airlock (./deploy)", name, args[i+1])
					continue
				}
				if _, err := os.Stat(filepath.Join(root, "deploy", rel)); err != nil {
					t.Errorf("%s: %s: deploy/%s: %v", name, args[i+1], rel, err)
				}
				if !mountsDeploy(s, root) {
					t.Errorf("%s: reads %s but does not mount ./deploy at /etc/airlock", name, args[i+1])
				}
			}
			if _, ok := composeAirlock[name]; (ok || name == "nats") && found == 0 {
				t.Errorf("%s: its command names no configuration file", name)
			}
		}
	})

	// Each container loads the shared configuration with exactly the
	// environment compose gives it (the .env.example dummies, passed on).
	t.Run("config loads", func(t *testing.T) {
		src, err := os.ReadFile(filepath.Join(root, composeAirlockCfg))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range slices.Sorted(maps.Keys(composeAirlock)) {
			t.Run(name, func(t *testing.T) {
				for _, r := range composeVarRefs(src) {
					t.Setenv(r.name, "")
				}
				for k, v := range services[name].Environment {
					t.Setenv(k, deref(v))
				}
				cfg, err := config.Load(filepath.Join(root, composeAirlockCfg))
				if err != nil {
					t.Fatalf("%s: %s does not load with its environment: %v", name, composeAirlockCfg, err)
				}
				for _, p := range cfg.Policies {
					if _, err := os.Stat(filepath.Join(root, filepath.Dir(composeAirlockCfg), p)); err != nil {
						t.Errorf("%s: policy file %s: %v", name, p, err)
					}
				}
				addr := map[string]string{"ingress": cfg.Admin.Ingress, "policy": cfg.Admin.Policy, "masker": cfg.Admin.Masker,
					"approver": cfg.Admin.Approver, "recorder": cfg.Admin.Recorder}[name]
				if name == "provision" {
					return
				}
				// Prometheus on the compose network scrapes it; the health
				// check probes it from inside the container.
				if host, _, err := net.SplitHostPort(addr); err != nil || (host != "" && !net.ParseIP(host).IsUnspecified()) {
					t.Errorf("%s: admin listener %q: want every interface of the container (0.0.0.0:<port>)", name, addr)
				}
			})
		}
	})

	// .env.example names every variable the stack needs: compose warns and
	// passes an empty string for one it lacks (loadCompose makes that an
	// error), and a service's configuration would not load.
	t.Run("variables", func(t *testing.T) {
		compose, err := os.ReadFile(filepath.Join(root, composeFile))
		if err != nil {
			t.Fatal(err)
		}
		airlock, err := os.ReadFile(filepath.Join(root, composeAirlockCfg))
		if err != nil {
			t.Fatal(err)
		}
		used := map[string]bool{}
		for _, r := range composeVarRefs(compose) {
			used[r.name] = true
			if _, ok := example[r.name]; !ok && !r.hasDefault {
				t.Errorf("%s: ${%s} has no default and is not in %s", composeFile, r.name, composeEnvExample)
			}
		}
		for _, r := range composeVarRefs(airlock) {
			_, inExample := example[r.name]
			if inExample || r.hasDefault {
				continue
			}
			// Set by compose for each container (AIRLOCK_NATS_USER, …).
			for name := range composeAirlock {
				if services[name].Environment[r.name] == nil {
					t.Errorf("%s: ${%s} has no default, is not in %s, and compose does not set it for %s", composeAirlockCfg, r.name, composeEnvExample, name)
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(example)) {
			if !used[k] {
				t.Errorf("%s: %s is not passed to any container by %s", composeEnvExample, k, composeFile)
			}
		}
	})
}

// composeDummyEnv reads .env.example as compose reads .env, and fills each
// empty value with a dummy of its own.
func composeDummyEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	env, err := dotenv.Read(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	for k, v := range env {
		if v == "" {
			env[k] = "dummy-" + strings.ToLower(k)
		}
	}
	return env
}

// loadCompose loads docker-compose.yml as `docker compose` does in root,
// with env as the only environment (no .env, nothing from the process).
func loadCompose(t *testing.T, root string, env map[string]string) *types.Project {
	t.Helper()
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, composeFile)},
		cli.WithWorkingDirectory(root), cli.WithName("airlock"), cli.WithEnv(environ),
		cli.WithLoadOptions(func(o *loader.Options) {
			if o.Interpolate != nil { // nil when only the files are read
				o.Interpolate.Substitute = strictSubstitute
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("loading %s: %v", composeFile, err)
	}
	return project
}

// strictSubstitute is compose's interpolation, except that a variable
// without a default that is not set is an error rather than a warning and
// an empty string.
func strictSubstitute(s string, m template.Mapping) (string, error) {
	return template.SubstituteWithOptions(s, m, template.WithoutLogging, template.WithReplacementFunction(
		func(s string, m template.Mapping, cfg *template.Config) (string, error) {
			v, applied, err := template.DefaultReplacementAppliedFunc(s, m, cfg)
			if err == nil && !applied {
				return "", fmt.Errorf("%s is not set (not in %s)", s, composeEnvExample)
			}
			return v, err
		}))
}

// composeVarRef is ${NAME} or ${NAME<modifier>…}: :-, -, :?, ?, :+, +.
var composeVarRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+][^}]*)?\}`)

type varRef struct {
	name string
	// hasDefault: the reference works unset (${X:-d}, ${X-d}, ${X:+v}).
	hasDefault bool
}

// composeVarRefs are the variables a YAML file references, comments aside.
func composeVarRefs(src []byte) []varRef {
	var refs []varRef
	for line := range strings.Lines(string(src)) {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range composeVarRef.FindAllStringSubmatch(strings.ReplaceAll(line, "$$", ""), -1) {
			refs = append(refs, varRef{name: m[1], hasDefault: m[2] != "" && !strings.Contains(m[2], "?")})
		}
	}
	return refs
}

func TestComposeVarRefs(t *testing.T) {
	src := "a: ${A}\nb: [${B:-x}, ${C-}, ${D:+y}]\nc: ${E:?set E} $${F}\n  # ${G}\n"
	want := []varRef{{"A", false}, {"B", true}, {"C", true}, {"D", true}, {"E", false}}
	if got := composeVarRefs([]byte(src)); !slices.Equal(got, want) {
		t.Errorf("composeVarRefs = %v, want %v", got, want)
	}
}

// natsServerMinor is the nats-server release line the tests are built
// with: 2.15 for 2.15.2.
func natsServerMinor() string {
	parts := strings.SplitN(server.VERSION, ".", 3)
	return strings.Join(parts[:min(2, len(parts))], ".")
}

// checkDockerfile checks that the image is a static binary on distroless,
// run as nonroot, at the path the health checks call.
func checkDockerfile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", composeDockerfile, err)
	}
	lines := strings.Split(string(data), "\n")
	last := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(l)), "FROM ") {
			last = i
			if image := strings.Fields(l)[1]; !strings.Contains(image, ":") || strings.HasSuffix(image, ":latest") {
				t.Errorf("%s: %s: want a pinned base image", composeDockerfile, strings.TrimSpace(l))
			}
		}
	}
	if last < 0 {
		t.Fatalf("%s: no FROM", composeDockerfile)
	}
	final := strings.Join(lines[last:], "\n")
	if image := strings.Fields(lines[last])[1]; !strings.HasPrefix(image, "gcr.io/distroless/") {
		t.Errorf("%s: final stage from %s, want gcr.io/distroless/…", composeDockerfile, image)
	}
	if !regexp.MustCompile(`(?m)^USER nonroot(:nonroot)?\s*$`).MatchString(final) {
		t.Errorf("%s: the final stage does not run as USER nonroot", composeDockerfile)
	}
	if !strings.Contains(final, composeHealthcheck[1]) {
		t.Errorf("%s: the final stage has no %s, which the health checks run", composeDockerfile, composeHealthcheck[1])
	}
	if !strings.Contains(string(data), "CGO_ENABLED=0") {
		t.Errorf("%s: the binary is not built static (CGO_ENABLED=0): distroless/static has no libc", composeDockerfile)
	}
}

// mountsDeploy reports whether s mounts the repository's deploy/ at
// /etc/airlock.
func mountsDeploy(s types.ServiceConfig, root string) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == filepath.Join(root, "deploy") && v.Target == "/etc/airlock" {
			return true
		}
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
