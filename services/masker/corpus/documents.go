package corpus

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Kinds of document.
const (
	KindJSON   = "json"   // GitHub API responses
	KindText   = "text"   // .env files, CI logs, configuration files
	KindSource = "source" // Go, Python, JavaScript, YAML, Terraform
)

// Doc is a document with secrets in it (or none, from Benign).
type Doc struct {
	// Name is unique among the documents of one call, a file name whose
	// extension tells the format, as in "012-settings.py".
	Name string
	// Kind is KindJSON, KindText or KindSource.
	Kind string
	// Data is the document.
	Data []byte
	// Secrets are all the secrets in Data, in the order they first occur,
	// each Value exactly as it appears in Data.
	Secrets []Secret
}

// file is a rendered text or source file and how each of its secrets
// appears in it.
type file struct {
	name     string // base name, as ".env" or "settings.py"
	language string // as GitHub names it, for gists
	text     string
	appear   []string // for each sample, in order
}

// render writes a file holding the samples; svc names the service it
// configures.
type render func(svc string, ss []sample) file

var (
	textRenders   = []render{dotenv, ciLog, tomlConfig}
	sourceRenders = []render{goFile, pythonFile, jsFile, workflowYAML, terraformFile}
	services      = []string{"billing", "deploy-bot", "search", "ingest", "notifier", "payments", "reports", "webhooks"}
)

// Documents returns the documents that hold Secrets: each secret is in at
// least one JSON, one text and one source document, sometimes with others
// beside it, and the secrets that need no name beside them are also spread
// through GitHub API listings. The JSON documents are GitHub API responses
// with a secret in a string: a gist's file, a commit's patch, an issue
// comment (an .env, a CI log, a workflow, escaped into the string) or a
// deployment's payload. Documents are a few kilobytes each; gitleaks finds
// exactly their Secrets in them.
func Documents() []Doc {
	var docs []Doc
	add := func(kind, name, data string, ss []sample, appear []string) {
		docs = append(docs, newDoc(fmt.Sprintf("%03d-%s", len(docs), name), kind, data, ss, appear))
	}
	// groups splits the samples into runs of one to three, differently for
	// each kind so that different secrets share a document.
	groups := func(shift int) [][]sample {
		var out [][]sample
		for i, g := 0, 0; i < len(samples); g++ {
			n := 1 + (g+shift)%3
			out = append(out, samples[i:min(i+n, len(samples))])
			i += n
		}
		return out
	}
	for g, ss := range groups(0) {
		svc := services[g%len(services)]
		f := textRenders[g%len(textRenders)](svc, ss)
		add(KindText, f.name, f.text, ss, f.appear)
	}
	for g, ss := range groups(1) {
		svc := services[(g+3)%len(services)]
		f := sourceRenders[g%len(sourceRenders)](svc, ss)
		add(KindSource, f.name, f.text, ss, f.appear)
	}
	for g, ss := range groups(2) {
		gh := newGHGen(uint64(1000 + g))
		svc := services[(g+5)%len(services)]
		var (
			obj    any
			name   string
			appear []string
		)
		// Text escaped into a JSON string hides a quoted secret from the
		// rules that want a quote, space or \n after it (a \" is none of
		// them), so the files inside JSON leave their values unquoted.
		pick := g % 4
		if slices.ContainsFunc(ss, func(s sample) bool { return s.ownJSONString }) {
			pick = 3
		}
		switch pick {
		case 0:
			f := []render{workflowYAML, dotenv}[(g/4)%2](svc, ss)
			obj, name, appear = gh.gist(f.name, f.language, f.text), "gist.json", jsonEscapeAll(f.appear)
		case 1:
			f := []render{dotenv, workflowYAML}[(g/4)%2](svc, ss)
			patch, a := diff(f)
			obj, name, appear = gh.commitWithPatch(f.name, patch), "commit.json", jsonEscapeAll(a)
		case 2:
			f := []render{dotenv, ciLog}[(g/4)%2](svc, ss)
			body := "The " + svc + " deploy fails with 401 since this morning. This is what the job printed:\n\n```\n" + f.text + "```\n\nAnything wrong with it?"
			obj, name, appear = gh.issueComment(body), "comment.json", jsonEscapeAll(f.appear)
		default:
			payload := map[string]any{"service": svc, "region": "eu-west-1", "replicas": 3}
			for _, s := range ss {
				payload[strings.ToLower(s.name)] = s.Value
				appear = append(appear, jsonEscape(s.Value))
			}
			obj, name = gh.deployment(payload), "deployment.json"
		}
		var data []byte
		var err error
		if g%2 == 0 {
			data, err = json.Marshal(obj)
		} else {
			data, err = json.MarshalIndent(obj, "", "  ")
		}
		if err != nil {
			panic(err)
		}
		add(KindJSON, name, string(data), ss, appear)
	}
	// GitHub API listings with the secrets that need no name beside them
	// as values of configuration objects.
	var bare []sample
	for _, s := range samples {
		if s.bare {
			bare = append(bare, s)
		}
	}
	for i := 0; i < len(bare); i += 8 {
		ss := bare[i:min(i+8, len(bare))]
		var values, appear []string
		for _, s := range ss {
			values = append(values, s.Value)
			appear = append(appear, jsonEscape(s.Value))
		}
		add(KindJSON, "listing.json", string(GitHubJSON(12<<10, uint64(2000+i), values)), ss, appear)
	}
	return docs
}

// newDoc checks that every secret appears in data as said and orders them
// by where they first occur.
func newDoc(name, kind, data string, ss []sample, appear []string) Doc {
	type at struct {
		pos int
		s   Secret
	}
	var found []at
	for i, s := range ss {
		pos := strings.Index(data, appear[i])
		if pos < 0 {
			panic(fmt.Sprintf("corpus: %s: %s secret not in the document as %q", name, s.Rule, appear[i]))
		}
		found = append(found, at{pos, Secret{s.Rule, appear[i]}})
	}
	slices.SortStableFunc(found, func(a, b at) int { return a.pos - b.pos })
	d := Doc{Name: name, Kind: kind, Data: []byte(data)}
	for _, f := range found {
		d.Secrets = append(d.Secrets, f.s)
	}
	return d
}

// jsonEscape is s as it appears inside a JSON string that encoding/json
// wrote.
func jsonEscape(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b[1 : len(b)-1])
}

func jsonEscapeAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = jsonEscape(s)
	}
	return out
}

// diff is f as the patch of a commit that adds it, and how its secrets
// appear there.
func diff(f file) (string, []string) {
	body := strings.TrimSuffix(f.text, "\n")
	patch := fmt.Sprintf("@@ -0,0 +1,%d @@\n+", strings.Count(body, "\n")+1) + strings.ReplaceAll(body, "\n", "\n+")
	appear := make([]string, len(f.appear))
	for i, a := range f.appear {
		appear[i] = strings.ReplaceAll(a, "\n", "\n+")
	}
	return patch, appear
}

func multiline(v string) bool { return strings.Contains(v, "\n") }

// camel is an upper snake case name in lower camel case: GITHUB_TOKEN is
// githubToken.
func camel(name string) string {
	parts := strings.Split(strings.ToLower(name), "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// indent puts prefix before every line of s but the first.
func indent(s, prefix string) string { return strings.ReplaceAll(s, "\n", "\n"+prefix) }

func dotenv(svc string, ss []sample) file {
	var b strings.Builder
	fmt.Fprintf(&b, "# Environment for the %s service (staging).\n# Loaded by docker compose; keep it out of version control.\nAPP_ENV=staging\nLOG_LEVEL=info\nPORT=8080\nDATABASE_HOST=db.%s.internal\n", svc, svc)
	f := file{name: ".env", language: "Shell"}
	for _, s := range ss {
		if multiline(s.Value) {
			fmt.Fprintf(&b, "%s=\"%s\"\n", s.name, s.Value)
		} else {
			fmt.Fprintf(&b, "%s=%s\n", s.name, s.Value)
		}
		f.appear = append(f.appear, s.Value)
	}
	f.text = b.String()
	return f
}

func ciLog(svc string, ss []sample) file {
	var b strings.Builder
	fmt.Fprintf(&b, "2024-05-14T09:12:01.4821733Z ##[group]Run ./scripts/deploy.sh %s staging\n", svc)
	fmt.Fprintf(&b, "2024-05-14T09:12:01.4822160Z ./scripts/deploy.sh %s staging\n", svc)
	b.WriteString("2024-05-14T09:12:01.4822914Z shell: /usr/bin/bash -e {0}\n2024-05-14T09:12:01.4823101Z ##[endgroup]\n2024-05-14T09:12:01.5012345Z + set -x\n")
	f := file{name: "deploy.log", language: "Text"}
	for i, s := range ss {
		if multiline(s.Value) {
			fmt.Fprintf(&b, "2024-05-14T09:12:02.%07dZ + cat deploy/%s.pem\n%s\n", 1000*i, strings.ToLower(s.name), s.Value)
		} else {
			fmt.Fprintf(&b, "2024-05-14T09:12:02.%07dZ + export %s=%s\n", 1000*i, s.name, s.Value)
		}
		f.appear = append(f.appear, s.Value)
	}
	fmt.Fprintf(&b, "2024-05-14T09:12:03.1200000Z Deploying %s build 1f3e2a9 to staging\n", svc)
	b.WriteString("2024-05-14T09:12:09.0031200Z Error: the release step timed out after 300s\n2024-05-14T09:12:09.0055000Z ##[error]Process completed with exit code 1.\n")
	f.text = b.String()
	return f
}

func tomlConfig(svc string, ss []sample) file {
	var b strings.Builder
	fmt.Fprintf(&b, "# Configuration of the %s service.\n\n[server]\nlisten = \"0.0.0.0:8443\"\nread_timeout = \"30s\"\nmax_body = 10485760\n\n[credentials]\n", svc)
	f := file{name: "config.toml", language: "TOML"}
	for _, s := range ss {
		if multiline(s.Value) {
			fmt.Fprintf(&b, "%s = \"\"\"\n%s\n\"\"\"\n", strings.ToLower(s.name), s.Value)
		} else {
			fmt.Fprintf(&b, "%s = \"%s\"\n", strings.ToLower(s.name), s.Value)
		}
		f.appear = append(f.appear, s.Value)
	}
	b.WriteString("\n[metrics]\nenabled = true\npath = \"/metrics\"\n")
	f.text = b.String()
	return f
}

func goFile(svc string, ss []sample) file {
	var b strings.Builder
	fmt.Fprintf(&b, "// Package config holds the %s service's settings.\npackage config\n\nimport \"time\"\n\n// Fallbacks for local development, used when the environment does not\n// set a value.\n//\n// TODO: move these to the secrets manager before the release.\nconst (\n", svc)
	f := file{name: "defaults.go", language: "Go"}
	for _, s := range ss {
		if multiline(s.Value) {
			fmt.Fprintf(&b, "\t%s = `%s`\n", camel(s.name), s.Value)
		} else {
			fmt.Fprintf(&b, "\t%s = %q\n", camel(s.name), s.Value)
		}
		f.appear = append(f.appear, s.Value)
	}
	b.WriteString(")\n\n// Timeout is how long a request to the upstream may take.\nconst Timeout = 30 * time.Second\n")
	f.text = b.String()
	return f
}

func pythonFile(svc string, ss []sample) file {
	var b strings.Builder
	fmt.Fprintf(&b, "\"\"\"Settings for the %s worker.\"\"\"\n\nimport os\n\nDEBUG = os.environ.get(\"DEBUG\", \"\") == \"1\"\nALLOWED_HOSTS = [\"%s.internal\", \"localhost\"]\n\n", svc, svc)
	f := file{name: "settings.py", language: "Python"}
	for _, s := range ss {
		if multiline(s.Value) {
			fmt.Fprintf(&b, "%s = \"\"\"%s\n\"\"\"\n", s.name, s.Value)
		} else {
			fmt.Fprintf(&b, "%s = \"%s\"\n", s.name, s.Value)
		}
		f.appear = append(f.appear, s.Value)
	}
	b.WriteString("\nCELERY_BROKER_URL = os.environ.get(\"CELERY_BROKER_URL\", \"redis://localhost:6379/0\")\n")
	f.text = b.String()
	return f
}

func jsFile(svc string, ss []sample) file {
	var b strings.Builder
	fmt.Fprintf(&b, "// Client settings for the %s integration.\n\"use strict\";\n\nmodule.exports = {\n  region: \"us-east-1\",\n  timeoutMs: 5000,\n", svc)
	f := file{name: "config.js", language: "JavaScript"}
	for _, s := range ss {
		if multiline(s.Value) {
			fmt.Fprintf(&b, "  %s: `%s`,\n", camel(s.name), s.Value)
		} else {
			fmt.Fprintf(&b, "  %s: \"%s\",\n", camel(s.name), s.Value)
		}
		f.appear = append(f.appear, s.Value)
	}
	b.WriteString("  retries: 3,\n};\n")
	f.text = b.String()
	return f
}

func workflowYAML(svc string, ss []sample) file {
	var b strings.Builder
	fmt.Fprintf(&b, "name: deploy-%s\non:\n  push:\n    branches: [main]\n  workflow_dispatch:\n\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    environment: production\n    env:\n      SERVICE: %s\n", svc, svc)
	f := file{name: "deploy.yml", language: "YAML"}
	for _, s := range ss {
		if multiline(s.Value) {
			v := indent(s.Value, "        ")
			fmt.Fprintf(&b, "      %s: |\n        %s\n", s.name, v)
			f.appear = append(f.appear, v)
		} else {
			fmt.Fprintf(&b, "      %s: %s\n", s.name, s.Value)
			f.appear = append(f.appear, s.Value)
		}
	}
	b.WriteString("    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/setup-go@v5\n        with:\n          go-version: '1.22'\n      - run: ./scripts/deploy.sh\n")
	f.text = b.String()
	return f
}

func terraformFile(svc string, ss []sample) file {
	var b strings.Builder
	fmt.Fprintf(&b, "terraform {\n  required_version = \">= 1.6.0\"\n}\n\n# Settings of the %s stack.\nlocals {\n  service = \"%s\"\n  region  = \"eu-west-1\"\n", svc, svc)
	f := file{name: "main.tf", language: "HCL"}
	for _, s := range ss {
		if multiline(s.Value) {
			fmt.Fprintf(&b, "  %s = <<EOT\n%s\nEOT\n", strings.ToLower(s.name), s.Value)
		} else {
			fmt.Fprintf(&b, "  %s = \"%s\"\n", strings.ToLower(s.name), s.Value)
		}
		f.appear = append(f.appear, s.Value)
	}
	b.WriteString("}\n\nmodule \"service\" {\n  source  = \"./modules/service\"\n  name    = local.service\n  region  = local.region\n}\n")
	f.text = b.String()
	return f
}
