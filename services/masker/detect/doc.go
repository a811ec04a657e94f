// Package detect finds secrets in bytes and masks them, fast enough to run
// inline on every body that passes through Airlock.
//
// # Catalogue
//
// The rules are gitleaks' own: the gitleaks.toml that
// github.com/zricethezav/gitleaks/v8/config embeds as DefaultConfig, read
// and translated by gitleaks' own code (ids, regexes, secretGroup, keywords,
// entropy, global and per-rule allowlists). Options.Extra, a TOML document in
// the same format, adds rules and allowlists or disables catalogue rules.
// Rules scoped to a file path are not loaded (pkcs12-file, which matches
// only a path, and freemius-secret-key, hashicorp-tf-password,
// kubernetes-secret-yaml and nuget-config-password, whose regexes apply only
// to some file names): a body has no path, and gitleaks' DetectBytes skips
// them too. That leaves 217 of the catalogue's 222 rules.
//
// # Engine
//
// gitleaks runs every rule whose keyword occurs anywhere in an input over
// the whole input. Every URL in a GitHub API response holds "api", one of
// the generic rule's keywords, so on a megabyte of such JSON gitleaks' own
// detector manages about 1.6 MB/s. This engine looks only near keywords:
//
//  1. One pass of an Aho–Corasick automaton (keywords.go), with ASCII case
//     folding built in, finds every keyword occurrence.
//  2. For each occurrence and each rule with that keyword, the rule's regex
//     decides what is there, looking only at a window around the
//     occurrence. The window comes from the regex's syntax tree
//     (analyze.go). Nearly every catalogue regex splits as before·from,
//     where before matches at most B bytes and every match of from begins
//     with one of the rule's keywords: `\b` · `ghp_[0-9a-zA-Z]{36}`, or
//     `[\w.-]{0,50}?` · `(?:access|auth|…|token)[ \t\w.-]{0,20}…` for
//     generic-api-key; a regex that alternates between such forms
//     (openai-api-key) splits branch by branch. A match that uses the
//     occurrence then starts at most B bytes before it and ends where from,
//     anchored at the occurrence, ends. Cheap tests come first: a sieve
//     (sieve.go) that reads the regex byte by byte over at most 64 bytes
//     rejects most occurrences in tens of nanoseconds, then from's bounded
//     prefix, then from itself. The regex itself, anchored at each possible
//     start (found by the sieve of before, reversed, run backwards), with
//     the byte before the start as context and the end of text cut where
//     the window ends inside the input, has the last word, so that
//     `\b`, `^` and `$` at a window edge read as they do in the whole input.
//     A rule whose regex need not contain its keyword (three in the
//     catalogue; see below) is searched within its maximum match length
//     plus 64 bytes either side of the keyword. A regex with unbounded
//     repetition counts as Options.MaxSecretLen bytes long.
//  3. The secret is what gitleaks takes: the secretGroup, else the first
//     non-empty group, of the match (gitleaks matches the regex again on
//     the match alone, after trimming newlines off its ends; the engine
//     does too when there is something to trim). The rule's entropy
//     threshold (Shannon entropy as gitleaks computes it: rune frequencies
//     over the length in bytes) and the global and per-rule allowlists
//     (regexes against the secret, the match or the line; stopwords
//     against the secret; "AND" conditions) apply as in gitleaks.
//  4. Overlapping candidates resolve into one finding: sorted by start, a
//     specific rule before a generic one, then longest, then catalogue
//     order; the first of a run of overlapping candidates is kept and its
//     span widened to cover the others, so that no byte of any detected
//     secret survives masking.
//
// Rules without keywords (none in the catalogue; possible in Extra) run over
// the whole input, as in gitleaks. Measured on the benchmark's megabyte: a
// keywordless rule whose regex starts with a literal adds about 0.2 ms (the
// regexp package skips from one occurrence of the literal to the next); one
// that does not, `\b[0-9A-Z]{24}\b`, adds about 15 ms, five times the cost
// of the whole catalogue.
//
// On a generated megabyte of GitHub API JSON with a few secrets in it
// (bench_test.go) the engine masks at 250–300 MB/s on one core, where
// gitleaks' detector, on the same input and catalogue, runs at 1.7 MB/s.
//
// # Differences from gitleaks
//
// The differential test (gitleaks_test.go) runs gitleaks' own detector and
// this engine over strings generated from every catalogue regex, the
// samples and GitHub JSON: every finding of gitleaks' is found, with the
// same rule and secret, except as listed here. All on purpose:
//
//   - airtable-personnal-access-token, facebook-access-token and
//     sourcegraph-access-token have keywords that need not occur in the
//     match. gitleaks runs them over a whole input that mentions the
//     keyword anywhere, so that one "sourcegraph" in a document makes every
//     40-hex-digit git sha in it a secret. The engine finds their matches
//     within 64 bytes of a keyword occurrence.
//   - A "gitleaks:allow" comment does not suppress a finding: a response
//     body is not source annotated by its owner, and the comment would let
//     any body opt out of masking.
//   - The "line" that an allowlist with regexTarget "line" is tested
//     against is cut to 1 KiB either side of the match: a minified JSON
//     document is one line, and one allowed phrase anywhere in it would
//     allow every generic finding.
//   - Overlapping findings are merged (see above), where gitleaks reports
//     each, dropping a generic one contained in a specific one's secret on
//     the same line.
//   - A match longer than MaxSecretLen is not found.
//   - Keywords fold ASCII case only; gitleaks lower-cases Unicode, so a
//     keyword spelt with the Kelvin sign for k or the long s is seen by
//     gitleaks and not by the engine.
//   - Shannon entropy is summed in rune order; gitleaks sums in map order,
//     so its last bit varies from run to run.
//   - Composite rules ([[rules.required]]) are refused in Extra; the
//     catalogue has none.
//
// Like gitleaks' library default (MaxDecodeDepth 0) and unlike its command
// line (which decodes five levels), encoded text is not decoded: a secret
// inside base64 (the contents API's "content") is not found.
package detect
