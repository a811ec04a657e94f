// Package corpus generates made-up secrets and the documents they hide in,
// for tests that check what Airlock masks: secrets shaped to gitleaks'
// rules, embedded in JSON, plain text and source files (Documents), and
// documents with no secret in them that look like secrets to a careless
// detector (Benign). Everything is deterministic: the same call returns the
// same bytes.
//
// Every secret is invented (random characters in the shape of a real
// token); none was ever valid.
package corpus

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
)

// Alphabets for Fake.
const (
	Alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	Word       = Alnum + "_"
	Base64     = Alnum + "+/"
	Base32     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	LowerHex   = "0123456789abcdef"
	Digits     = "0123456789"
	UpperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	LowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	base64URL  = Alnum + "-_"
	letters    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	bech32     = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
)

// Fake returns n characters from alphabet, the same for the same label: a
// made-up secret that looks random enough to pass a rule's entropy check.
func Fake(label, alphabet string, n int) string {
	h := fnv.New64a()
	h.Write([]byte(label))
	rng := rand.New(rand.NewPCG(h.Sum64(), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// PEMKey is a made-up PEM RSA private key with lines lines of 64 base64
// characters between its header and footer, and no trailing newline.
func PEMKey(label string, lines int) string {
	return pem(label, "RSA PRIVATE KEY", "MIIEowIBAAKCAQEA", 64, lines)
}

// pem is a made-up PEM block of type typ whose body starts with prefix
// (the DER header real keys of that type start with) and goes on with
// random base64 in lines of width characters.
func pem(label, typ, prefix string, width, lines int) string {
	body := prefix + Fake(label, Base64, width*lines-len(prefix))
	var b strings.Builder
	b.WriteString("-----BEGIN " + typ + "-----\n")
	for i := 0; i < len(body); i += width {
		b.WriteString(body[i:min(i+width, len(body))])
		b.WriteByte('\n')
	}
	b.WriteString("-----END " + typ + "-----")
	return b.String()
}

// uuid is a made-up version 4 UUID in lower case.
func uuid(label string) string {
	h := Fake(label, LowerHex, 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}

// jwt is a made-up HS256 JSON Web Token with a plausible payload.
func jwt(label, subject string) string {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload, err := json.Marshal(map[string]any{
		"sub": subject, "iss": "https://auth.example-corp.dev", "aud": "api",
		"iat": 1714557600, "exp": 1714561200, "scope": "repo read:org",
	})
	if err != nil {
		panic(err)
	}
	sig := Fake(label, base64URL, 42) + Fake(label+"end", Alnum, 1)
	return header + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + sig
}

// Secret is a made-up secret and the id of the gitleaks rule that finds it.
type Secret struct {
	// Rule is the gitleaks rule id, as in "github-pat".
	Rule string
	// Value is the secret. In a Doc it is the secret as it appears in the
	// document's bytes: escaped in JSON (a PEM key's newlines as \n),
	// indented in YAML, and so on.
	Value string
}

// sample is a secret with the variable name a developer would keep it in.
type sample struct {
	Secret
	// name is the variable, in upper snake case; templates derive lower
	// snake and camel case from it. Rules that need a keyword next to the
	// secret (heroku-api-key, generic-api-key…) find it through the name.
	name string
	// bare is whether the rule finds the secret with no name beside it.
	bare bool
	// ownJSONString is whether the secret goes into JSON only as a string
	// of its own: its rule's regex takes a backslash escape that follows
	// it (a \n or \" of escaped text) into the secret.
	ownJSONString bool
}

// token is a sample that its rule finds anywhere.
func token(rule, name, value string) sample {
	return sample{Secret: Secret{rule, value}, name: name, bare: true}
}

// named is a sample whose rule needs its keyword, in the name, next to it.
func named(rule, name, value string) sample {
	return sample{Secret: Secret{rule, value}, name: name}
}

// samples is the catalogue of made-up secrets, one or more per rule, each
// shaped to its gitleaks rule's regex and entropy threshold.
var samples = []sample{
	token("github-pat", "GITHUB_TOKEN", "ghp_"+Fake("ghp", Alnum, 36)),
	token("github-pat", "GH_TOKEN", "ghp_"+Fake("ghp2", Alnum, 36)),
	token("github-fine-grained-pat", "GITHUB_PAT", "github_pat_11"+Fake("gfg1", UpperAlnum, 20)+"_"+Fake("gfg2", Alnum, 59)),
	token("github-oauth", "GITHUB_OAUTH_TOKEN", "gho_"+Fake("gho", Alnum, 36)),
	token("github-app-token", "GITHUB_APP_TOKEN", "ghs_"+Fake("ghs", Alnum, 36)),
	token("github-app-token", "GH_USER_TOKEN", "ghu_"+Fake("ghu", Alnum, 36)),
	token("github-refresh-token", "GITHUB_REFRESH_TOKEN", "ghr_"+Fake("ghr", Alnum, 36)),
	token("aws-access-token", "AWS_ACCESS_KEY_ID", "AKIA"+Fake("akia", Base32, 16)),
	token("aws-access-token", "AWS_TEMP_ACCESS_KEY_ID", "ASIA"+Fake("asia", Base32, 16)),
	named("generic-api-key", "AWS_SECRET_ACCESS_KEY", Fake("awssecret1", Alnum, 1)+Fake("awssecret", Base64, 38)+Fake("awssecret2", Alnum, 1)),
	token("slack-bot-token", "SLACK_BOT_TOKEN", "xoxb-"+Fake("xb1", Digits, 12)+"-"+Fake("xb2", Digits, 13)+"-"+Fake("xb3", Alnum, 24)),
	token("slack-user-token", "SLACK_USER_TOKEN", "xoxp-"+Fake("xp1", Digits, 10)+"-"+Fake("xp2", Digits, 13)+"-"+Fake("xp3", Digits, 13)+"-"+Fake("xp4", LowerHex, 32)),
	token("slack-app-token", "SLACK_APP_TOKEN", "xapp-1-A"+Fake("xapp1", UpperAlnum, 10)+"-"+Fake("xapp2", Digits, 13)+"-"+Fake("xapp3", LowerHex, 64)),
	token("slack-webhook-url", "SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T"+Fake("sw1", UpperAlnum, 8)+"/B"+Fake("sw2", UpperAlnum, 8)+"/"+Fake("sw3", Alnum, 24)),
	token("stripe-access-token", "STRIPE_SECRET_KEY", "sk_live_51"+Fake("stripe", Alnum, 97)),
	token("stripe-access-token", "STRIPE_RESTRICTED_KEY", "rk_live_51"+Fake("stripe-rk", Alnum, 97)),
	token("gitlab-pat", "GITLAB_TOKEN", "glpat-"+Fake("glpat", Alnum+"-_", 20)),
	token("gitlab-ptt", "CI_TRIGGER_TOKEN", "glptt-"+Fake("glptt", LowerHex, 40)),
	token("gitlab-runner-authentication-token", "RUNNER_TOKEN", "glrt-"+Fake("glrt", Alnum, 20)),
	token("gitlab-deploy-token", "CI_DEPLOY_PASSWORD", "gldt-"+Fake("gldt", Alnum, 20)),
	token("npm-access-token", "NPM_TOKEN", "npm_"+Fake("npm", Alnum, 36)),
	token("pypi-upload-token", "PYPI_API_TOKEN", "pypi-AgEIcHlwaS5vcmc"+Fake("pypi", base64URL, 159)+Fake("pypi-end", Alnum, 1)),
	token("openai-api-key", "OPENAI_API_KEY", "sk-proj-"+Fake("oai1", base64URL, 74)+"T3BlbkFJ"+Fake("oai2", base64URL, 73)+Fake("oai3", Alnum, 1)),
	token("anthropic-api-key", "ANTHROPIC_API_KEY", "sk-ant-api03-"+Fake("ant", base64URL, 93)+"AA"),
	token("anthropic-admin-api-key", "ANTHROPIC_ADMIN_KEY", "sk-ant-admin01-"+Fake("antadmin", base64URL, 93)+"AA"),
	token("private-key", "DEPLOY_KEY", PEMKey("pem", 12)),
	token("private-key", "TLS_KEY", pem("ec", "EC PRIVATE KEY", "MHcCAQEEI", 64, 3)),
	token("private-key", "SSH_PRIVATE_KEY", pem("openssh", "OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW", 70, 6)),
	token("private-key", "SERVICE_ACCOUNT_KEY", pem("pkcs8", "PRIVATE KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", 64, 10)),
	{Secret: Secret{"jwt", jwt("jwt", "octocat")}, name: "ID_TOKEN", bare: true, ownJSONString: true},
	token("gcp-api-key", "GOOGLE_MAPS_API_KEY", "AIza"+Fake("gcp", Word+"-", 34)+Fake("gcp-end", Alnum, 1)),
	token("sendgrid-api-token", "SENDGRID_API_KEY", "SG."+Fake("sg1", base64URL, 22)+"."+Fake("sg2", base64URL, 43)),
	token("twilio-api-key", "TWILIO_API_KEY", "SK"+Fake("twilio", LowerHex, 32)),
	token("shopify-access-token", "SHOPIFY_ACCESS_TOKEN", "shpat_"+Fake("shpat", LowerHex, 32)),
	token("shopify-shared-secret", "SHOPIFY_API_SECRET", "shpss_"+Fake("shpss", LowerHex, 32)),
	token("digitalocean-pat", "DIGITALOCEAN_TOKEN", "dop_v1_"+Fake("do", LowerHex, 64)),
	token("digitalocean-access-token", "DO_OAUTH_TOKEN", "doo_v1_"+Fake("doo", LowerHex, 64)),
	token("heroku-api-key-v2", "HEROKU_API_KEY", "HRKU-AA"+Fake("heroku", Word+"-", 58)),
	named("heroku-api-key", "HEROKU_API_TOKEN", uuid("heroku-legacy")),
	token("hashicorp-tf-api-token", "TFE_TOKEN", Fake("tfe1", Alnum, 14)+".atlasv1."+Fake("tfe2", Alnum+"-_", 66)+Fake("tfe3", Alnum, 1)),
	token("vault-service-token", "VAULT_TOKEN", "hvs."+Fake("hvs", Word+"-", 91)),
	token("doppler-api-token", "DOPPLER_TOKEN", "dp.pt."+Fake("doppler", Alnum, 43)),
	token("databricks-api-token", "DATABRICKS_TOKEN", "dapi"+Fake("dapi", LowerHex, 32)),
	token("azure-ad-client-secret", "AZURE_CLIENT_SECRET", Fake("az1", Alnum, 3)+Fake("az2", Digits, 1)+"Q~"+Fake("az3", Alnum+"_~.-", 33)+Fake("az4", Alnum, 1)),
	token("age-secret-key", "SOPS_AGE_KEY", "AGE-SECRET-KEY-1"+Fake("age", bech32, 58)),
	token("linear-api-key", "LINEAR_API_KEY", "lin_api_"+Fake("linear", Alnum, 40)),
	token("postman-api-token", "POSTMAN_API_KEY", "PMAK-"+Fake("pmak1", LowerHex, 24)+"-"+Fake("pmak2", LowerHex, 34)),
	token("pulumi-api-token", "PULUMI_ACCESS_TOKEN", "pul-"+Fake("pulumi", LowerHex, 40)),
	token("rubygems-api-token", "GEM_HOST_API_KEY", "rubygems_"+Fake("rubygems", LowerHex, 48)),
	token("grafana-service-account-token", "GRAFANA_SA_TOKEN", "glsa_"+Fake("glsa1", Alnum, 32)+"_"+Fake("glsa2", LowerHex, 8)),
	token("dynatrace-api-token", "DT_API_TOKEN", "dt0c01."+Fake("dt1", UpperAlnum, 24)+"."+Fake("dt2", UpperAlnum, 64)),
	token("sentry-user-token", "SENTRY_AUTH_TOKEN", "sntryu_"+Fake("sentry", LowerHex, 64)),
	token("huggingface-access-token", "HF_TOKEN", "hf_"+Fake("hf", letters, 34)),
	token("perplexity-api-key", "PERPLEXITY_API_KEY", "pplx-"+Fake("pplx", Alnum, 48)),
	token("planetscale-api-token", "PLANETSCALE_SERVICE_TOKEN", "pscale_tkn_"+Fake("pscale", Alnum, 43)),
	token("shippo-api-token", "SHIPPO_API_KEY", "shippo_live_"+Fake("shippo", LowerHex, 40)),
	token("sendinblue-api-token", "BREVO_API_KEY", "xkeysib-"+Fake("brevo1", LowerHex, 64)+"-"+Fake("brevo2", Alnum, 16)),
	named("datadog-access-token", "DATADOG_APP_KEY", Fake("datadog", LowerHex, 40)),
	named("mailchimp-api-key", "MAILCHIMP_API_KEY", Fake("mailchimp", LowerHex, 32)+"-us21"),
	named("telegram-bot-api-token", "TELEGRAM_BOT_TOKEN", "7"+Fake("tg1", Digits, 9)+":AA"+Fake("tg2", Word+"-", 33)),
	named("new-relic-user-api-key", "NEW_RELIC_API_KEY", "NRAK-"+Fake("nrak", UpperAlnum, 27)),
	named("okta-access-token", "OKTA_API_TOKEN", "00"+Fake("okta", Word+"-", 39)+Fake("okta-end", Alnum, 1)),
	named("snyk-api-token", "SNYK_TOKEN", uuid("snyk")),
	named("sonar-api-token", "SONAR_TOKEN", "squ_"+Fake("sonar", LowerHex, 40)),
	named("cloudflare-api-key", "CLOUDFLARE_API_TOKEN", Fake("cloudflare", Word+"-", 39)+Fake("cloudflare-end", Alnum, 1)),
	token("alibaba-access-key-id", "ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5t"+Fake("alibaba", Alnum, 18)),
	token("notion-api-token", "NOTION_TOKEN", "ntn_"+Fake("ntn1", Digits, 11)+Fake("ntn2", Alnum, 35)),
	token("prefect-api-token", "PREFECT_API_KEY", "pnu_"+Fake("prefect", Alnum, 36)),
	token("infracost-api-token", "INFRACOST_API_KEY", "ico-"+Fake("infracost", Alnum, 32)),
	token("square-access-token", "SQUARE_ACCESS_TOKEN", "EAAA"+Fake("square", Word+"-", 59)+Fake("square-end", Alnum, 1)),
	token("1password-secret-key", "OP_SECRET_KEY", "A3-"+Fake("op1", UpperAlnum, 6)+"-"+Fake("op2", UpperAlnum, 6)+"-"+Fake("op3", UpperAlnum, 5)+"-"+Fake("op4", UpperAlnum, 5)+"-"+Fake("op5", UpperAlnum, 5)+"-"+Fake("op6", UpperAlnum, 5)),
	token("flyio-access-token", "FLY_API_TOKEN", "fo1_"+Fake("fly", Word+"-", 42)+Fake("fly-end", Alnum, 1)),
	token("easypost-api-token", "EASYPOST_API_KEY", "EZAK"+Fake("easypost", Alnum, 54)),
	token("duffel-api-token", "DUFFEL_ACCESS_TOKEN", "duffel_live_"+Fake("duffel", Word+"-", 42)+Fake("duffel-end", Alnum, 1)),
	token("frameio-api-token", "FRAMEIO_TOKEN", "fio-u-"+Fake("frameio", Word+"-", 63)+Fake("frameio-end", Alnum, 1)),
	token("readme-api-token", "README_API_KEY", "rdme_"+Fake("readme", LowerAlnum, 70)),
	token("scalingo-api-token", "SCALINGO_API_TOKEN", "tk-us-"+Fake("scalingo", Word+"-", 47)+Fake("scalingo-end", Alnum, 1)),
	token("clojars-api-token", "CLOJARS_DEPLOY_TOKEN", "CLOJARS_"+Fake("clojars", LowerAlnum, 60)),
	token("maxmind-license-key", "MAXMIND_LICENSE_KEY", Fake("mm1", Alnum, 6)+"_"+Fake("mm2", Alnum, 29)+"_mmk"),
	named("generic-api-key", "DB_PASSWORD", Fake("generic", Alnum, 24)),
	named("generic-api-key", "OAUTH_CLIENT_SECRET", Fake("generic2", Alnum, 40)),
}

// Secrets returns the made-up secrets, at least one for each of 72
// gitleaks rules, in a fixed order: GitHub's tokens first.
func Secrets() []Secret {
	out := make([]Secret, len(samples))
	for i, s := range samples {
		out[i] = s.Secret
	}
	return out
}

// Of returns the first of Secrets whose rule is rule. It panics if there is
// none: the caller asked for a rule the corpus does not have.
func Of(rule string) Secret {
	for _, s := range samples {
		if s.Rule == rule {
			return s.Secret
		}
	}
	panic(fmt.Sprintf("corpus: no secret for rule %q", rule))
}
