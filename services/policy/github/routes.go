package github

import (
	"fmt"
	"strings"
)

// route is one entry of the route table.
type route struct {
	// method is the upper-case HTTP method the entry matches, or "*" for
	// any method. A "*" entry's action is a resource, and the verb comes
	// from the method: GET, HEAD, OPTIONS → ".read", DELETE → ".delete",
	// anything else → ".write".
	method string
	// pattern is the path pattern. Fixed segments are lower-case and match
	// ASCII-case-insensitively. A placeholder in braces matches one
	// non-empty segment; one ending in "..." matches one or more, and a
	// pattern has at most one of those. Placeholders that fill Operation:
	// {owner} {repo} {org} (lower-cased), {path...} (FilePath),
	// {ref...} (Ref, "refs/" prepended unless present, and Branch for
	// refs/heads/), {branch...} (Branch, and Ref as refs/heads/<branch>),
	// {tag...} (Ref as refs/tags/<tag>). Others only match.
	pattern string
	// action is the action in the vocabulary, or for method "*" the
	// resource.
	action string

	// Derived by newIndex.
	segs        []patternSegment
	greedy      int       // index in segs of the "..." placeholder, or -1
	resource    string    // action without its verb
	verbActions [3]string // for method "*": the action per verb
}

// routes is the route table. Within a bucket (see key) the first entry that
// matches wins, so an entry with a fixed suffix after a greedy placeholder
// ("branches/{branch...}/protection") comes before the bare greedy one
// ("branches/{branch...}"), as GitHub resolves them.
var routes = []route{
	// API root and meta.
	{method: "GET", pattern: "/", action: "meta.read"},
	{method: "GET", pattern: "/meta", action: "meta.read"},
	{method: "GET", pattern: "/rate_limit", action: "meta.read"},
	{method: "GET", pattern: "/zen", action: "meta.read"},
	{method: "GET", pattern: "/octocat", action: "meta.read"},
	{method: "GET", pattern: "/emojis", action: "meta.read"},
	{method: "GET", pattern: "/versions", action: "meta.read"},

	// Repositories.
	{method: "GET", pattern: "/repos/{owner}/{repo}", action: "repos.read"},
	{method: "PATCH", pattern: "/repos/{owner}/{repo}", action: "repos.update"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}", action: "repos.delete"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/transfer", action: "repos.transfer"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/generate", action: "repos.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/forks", action: "repos.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/forks", action: "repos.fork"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/dispatches", action: "repos.dispatch"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/topics", action: "repos.read"},
	{method: "PUT", pattern: "/repos/{owner}/{repo}/topics", action: "repos.update"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/languages", action: "repos.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/contributors", action: "repos.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/tags", action: "repos.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/teams", action: "repos.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/events", action: "repos.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/activity", action: "repos.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/stargazers", action: "repos.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/subscribers", action: "repos.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/codeowners/errors", action: "repos.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/stats/{stat}", action: "repos.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/traffic/{rest...}", action: "repos.read"},
	{method: "*", pattern: "/repos/{owner}/{repo}/vulnerability-alerts", action: "repos.settings"},
	{method: "*", pattern: "/repos/{owner}/{repo}/automated-security-fixes", action: "repos.settings"},
	{method: "*", pattern: "/repos/{owner}/{repo}/private-vulnerability-reporting", action: "repos.settings"},
	{method: "*", pattern: "/repos/{owner}/{repo}/autolinks", action: "repos.settings"},
	{method: "*", pattern: "/repos/{owner}/{repo}/autolinks/{id}", action: "repos.settings"},
	{method: "*", pattern: "/repos/{owner}/{repo}/properties/values", action: "repos.settings"},
	{method: "*", pattern: "/repos/{owner}/{repo}/subscription", action: "repos.subscription"},
	{method: "*", pattern: "/repos/{owner}/{repo}/pages", action: "pages"},
	{method: "*", pattern: "/repos/{owner}/{repo}/pages/{rest...}", action: "pages"},
	{method: "*", pattern: "/repos/{owner}/{repo}/rulesets", action: "rulesets"},
	{method: "*", pattern: "/repos/{owner}/{repo}/rulesets/{rest...}", action: "rulesets"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/rules/branches/{branch...}", action: "rulesets.read"},
	{method: "GET", pattern: "/orgs/{org}/repos", action: "repos.read"},
	{method: "POST", pattern: "/orgs/{org}/repos", action: "repos.create"},
	{method: "GET", pattern: "/user/repos", action: "repos.read"},
	{method: "POST", pattern: "/user/repos", action: "repos.create"},
	{method: "GET", pattern: "/users/{username}/repos", action: "repos.read"},
	{method: "GET", pattern: "/repositories", action: "repos.read"},

	// Contents and archives.
	{method: "GET", pattern: "/repos/{owner}/{repo}/contents", action: "contents.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/contents/{path...}", action: "contents.read"},
	{method: "PUT", pattern: "/repos/{owner}/{repo}/contents/{path...}", action: "contents.write"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/contents/{path...}", action: "contents.delete"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/readme", action: "contents.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/readme/{dir...}", action: "contents.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/tarball", action: "contents.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/tarball/{sha...}", action: "contents.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/zipball", action: "contents.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/zipball/{sha...}", action: "contents.read"},

	// Commits, comparisons, statuses and checks.
	{method: "GET", pattern: "/repos/{owner}/{repo}/commits", action: "commits.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/commits/{sha}/comments", action: "commits.comments.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/commits/{sha}/comments", action: "commits.comments.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/commits/{sha}/pulls", action: "pulls.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/commits/{sha}/branches-where-head", action: "branches.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/commits/{sha...}/status", action: "statuses.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/commits/{sha...}/statuses", action: "statuses.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/commits/{sha...}/check-runs", action: "checks.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/commits/{sha...}/check-suites", action: "checks.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/commits/{sha...}", action: "commits.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/compare/{basehead...}", action: "commits.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/comments", action: "commits.comments.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/comments/{id}", action: "commits.comments.read"},
	{method: "PATCH", pattern: "/repos/{owner}/{repo}/comments/{id}", action: "commits.comments.update"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/comments/{id}", action: "commits.comments.delete"},
	{method: "*", pattern: "/repos/{owner}/{repo}/comments/{id}/reactions", action: "reactions"},
	{method: "*", pattern: "/repos/{owner}/{repo}/comments/{id}/reactions/{rid}", action: "reactions"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/statuses/{sha}", action: "statuses.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/statuses/{sha}", action: "statuses.create"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/check-runs", action: "checks.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/check-runs/{id}", action: "checks.read"},
	{method: "PATCH", pattern: "/repos/{owner}/{repo}/check-runs/{id}", action: "checks.update"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/check-runs/{id}/annotations", action: "checks.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/check-runs/{id}/rerequest", action: "checks.rerun"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/check-suites", action: "checks.create"},
	{method: "PATCH", pattern: "/repos/{owner}/{repo}/check-suites/preferences", action: "checks.update"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/check-suites/{id}", action: "checks.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/check-suites/{id}/check-runs", action: "checks.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/check-suites/{id}/rerequest", action: "checks.rerun"},

	// Git database.
	{method: "POST", pattern: "/repos/{owner}/{repo}/git/blobs", action: "git.blobs.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/git/blobs/{sha}", action: "git.blobs.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/git/trees", action: "git.trees.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/git/trees/{sha...}", action: "git.trees.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/git/commits", action: "git.commits.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/git/commits/{sha}", action: "git.commits.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/git/tags", action: "git.tags.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/git/tags/{sha}", action: "git.tags.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/git/ref/{ref...}", action: "git.refs.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/git/matching-refs/{ref...}", action: "git.refs.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/git/refs", action: "git.refs.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/git/refs/{ref...}", action: "git.refs.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/git/refs", action: "git.refs.create"},
	{method: "PATCH", pattern: "/repos/{owner}/{repo}/git/refs/{ref...}", action: "git.refs.update"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/git/refs/{ref...}", action: "git.refs.delete"},

	// Branches and their protection. The protection sub-resources come
	// before the bare branch so that "main/protection" is not a branch.
	{method: "GET", pattern: "/repos/{owner}/{repo}/branches", action: "branches.read"},
	{method: "*", pattern: "/repos/{owner}/{repo}/branches/{branch...}/protection", action: "branches.protection"},
	{method: "*", pattern: "/repos/{owner}/{repo}/branches/{branch...}/protection/required_status_checks", action: "branches.protection"},
	{method: "*", pattern: "/repos/{owner}/{repo}/branches/{branch...}/protection/required_status_checks/contexts", action: "branches.protection"},
	{method: "*", pattern: "/repos/{owner}/{repo}/branches/{branch...}/protection/enforce_admins", action: "branches.protection"},
	{method: "*", pattern: "/repos/{owner}/{repo}/branches/{branch...}/protection/required_pull_request_reviews", action: "branches.protection"},
	{method: "*", pattern: "/repos/{owner}/{repo}/branches/{branch...}/protection/required_signatures", action: "branches.protection"},
	{method: "*", pattern: "/repos/{owner}/{repo}/branches/{branch...}/protection/restrictions", action: "branches.protection"},
	{method: "*", pattern: "/repos/{owner}/{repo}/branches/{branch...}/protection/restrictions/apps", action: "branches.protection"},
	{method: "*", pattern: "/repos/{owner}/{repo}/branches/{branch...}/protection/restrictions/teams", action: "branches.protection"},
	{method: "*", pattern: "/repos/{owner}/{repo}/branches/{branch...}/protection/restrictions/users", action: "branches.protection"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/branches/{branch...}/rename", action: "branches.rename"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/branches/{branch...}", action: "branches.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/merges", action: "branches.merge"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/merge-upstream", action: "branches.merge"},

	// Pull requests, reviews and review comments.
	{method: "GET", pattern: "/repos/{owner}/{repo}/pulls", action: "pulls.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/pulls", action: "pulls.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/pulls/comments", action: "pulls.comments.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/pulls/comments/{id}", action: "pulls.comments.read"},
	{method: "PATCH", pattern: "/repos/{owner}/{repo}/pulls/comments/{id}", action: "pulls.comments.update"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/pulls/comments/{id}", action: "pulls.comments.delete"},
	{method: "*", pattern: "/repos/{owner}/{repo}/pulls/comments/{id}/reactions", action: "reactions"},
	{method: "*", pattern: "/repos/{owner}/{repo}/pulls/comments/{id}/reactions/{rid}", action: "reactions"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/pulls/{number}", action: "pulls.read"},
	{method: "PATCH", pattern: "/repos/{owner}/{repo}/pulls/{number}", action: "pulls.update"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/pulls/{number}/commits", action: "pulls.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/pulls/{number}/files", action: "pulls.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/pulls/{number}/merge", action: "pulls.read"},
	{method: "PUT", pattern: "/repos/{owner}/{repo}/pulls/{number}/merge", action: "pulls.merge"},
	{method: "PUT", pattern: "/repos/{owner}/{repo}/pulls/{number}/update-branch", action: "pulls.update"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/pulls/{number}/comments", action: "pulls.comments.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/pulls/{number}/comments", action: "pulls.comments.create"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/pulls/{number}/comments/{id}/replies", action: "pulls.comments.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/pulls/{number}/reviews", action: "pulls.reviews.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/pulls/{number}/reviews", action: "pulls.reviews.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/pulls/{number}/reviews/{id}", action: "pulls.reviews.read"},
	{method: "PUT", pattern: "/repos/{owner}/{repo}/pulls/{number}/reviews/{id}", action: "pulls.reviews.update"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/pulls/{number}/reviews/{id}", action: "pulls.reviews.delete"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/pulls/{number}/reviews/{id}/comments", action: "pulls.reviews.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/pulls/{number}/reviews/{id}/events", action: "pulls.reviews.submit"},
	{method: "PUT", pattern: "/repos/{owner}/{repo}/pulls/{number}/reviews/{id}/dismissals", action: "pulls.reviews.dismiss"},
	{method: "*", pattern: "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers", action: "pulls.requested_reviewers"},

	// Issues, comments, labels, milestones.
	{method: "GET", pattern: "/issues", action: "issues.read"},
	{method: "GET", pattern: "/user/issues", action: "issues.read"},
	{method: "GET", pattern: "/orgs/{org}/issues", action: "issues.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/issues", action: "issues.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/issues", action: "issues.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/issues/comments", action: "issues.comments.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/issues/comments/{id}", action: "issues.comments.read"},
	{method: "PATCH", pattern: "/repos/{owner}/{repo}/issues/comments/{id}", action: "issues.comments.update"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/issues/comments/{id}", action: "issues.comments.delete"},
	{method: "*", pattern: "/repos/{owner}/{repo}/issues/comments/{id}/reactions", action: "reactions"},
	{method: "*", pattern: "/repos/{owner}/{repo}/issues/comments/{id}/reactions/{rid}", action: "reactions"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/issues/events", action: "issues.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/issues/events/{id}", action: "issues.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/issues/{number}", action: "issues.read"},
	{method: "PATCH", pattern: "/repos/{owner}/{repo}/issues/{number}", action: "issues.update"},
	{method: "PUT", pattern: "/repos/{owner}/{repo}/issues/{number}/lock", action: "issues.update"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/issues/{number}/lock", action: "issues.update"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/issues/{number}/events", action: "issues.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/issues/{number}/timeline", action: "issues.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/issues/{number}/comments", action: "issues.comments.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/issues/{number}/comments", action: "issues.comments.create"},
	{method: "*", pattern: "/repos/{owner}/{repo}/issues/{number}/labels", action: "issues.labels"},
	{method: "*", pattern: "/repos/{owner}/{repo}/issues/{number}/labels/{name...}", action: "issues.labels"},
	{method: "*", pattern: "/repos/{owner}/{repo}/issues/{number}/assignees", action: "issues.assignees"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/issues/{number}/assignees/{user}", action: "issues.assignees.read"},
	{method: "*", pattern: "/repos/{owner}/{repo}/issues/{number}/reactions", action: "reactions"},
	{method: "*", pattern: "/repos/{owner}/{repo}/issues/{number}/reactions/{rid}", action: "reactions"},
	{method: "*", pattern: "/repos/{owner}/{repo}/issues/{number}/sub_issues", action: "issues.sub_issues"},
	{method: "*", pattern: "/repos/{owner}/{repo}/issues/{number}/sub_issue", action: "issues.sub_issues"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/assignees", action: "issues.assignees.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/assignees/{user}", action: "issues.assignees.read"},
	{method: "*", pattern: "/repos/{owner}/{repo}/labels", action: "labels"},
	{method: "*", pattern: "/repos/{owner}/{repo}/labels/{name...}", action: "labels"},
	{method: "*", pattern: "/repos/{owner}/{repo}/milestones", action: "milestones"},
	{method: "*", pattern: "/repos/{owner}/{repo}/milestones/{number}", action: "milestones"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/milestones/{number}/labels", action: "milestones.read"},

	// Actions: workflows and runs.
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/workflows", action: "actions.workflows.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/workflows/{workflow}", action: "actions.workflows.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/workflows/{workflow}/timing", action: "actions.workflows.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches", action: "actions.workflows.dispatch"},
	{method: "PUT", pattern: "/repos/{owner}/{repo}/actions/workflows/{workflow}/enable", action: "actions.workflows.enable"},
	{method: "PUT", pattern: "/repos/{owner}/{repo}/actions/workflows/{workflow}/disable", action: "actions.workflows.disable"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/workflows/{workflow}/runs", action: "actions.runs.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/runs", action: "actions.runs.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/runs/{id}", action: "actions.runs.read"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/actions/runs/{id}", action: "actions.runs.delete"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/runs/{id}/artifacts", action: "actions.artifacts.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/runs/{id}/{rest...}", action: "actions.runs.read"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/actions/runs/{id}/logs", action: "actions.runs.delete"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/actions/runs/{id}/rerun", action: "actions.runs.rerun"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/actions/runs/{id}/rerun-failed-jobs", action: "actions.runs.rerun"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/actions/runs/{id}/attempts/{n}/rerun", action: "actions.runs.rerun"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/actions/runs/{id}/cancel", action: "actions.runs.cancel"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/actions/runs/{id}/force-cancel", action: "actions.runs.cancel"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/actions/runs/{id}/approve", action: "actions.runs.approve"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/actions/runs/{id}/pending_deployments", action: "actions.runs.approve"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/actions/runs/{id}/deployment_protection_rule", action: "actions.runs.approve"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/jobs/{id}", action: "actions.runs.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/jobs/{id}/logs", action: "actions.runs.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/actions/jobs/{id}/rerun", action: "actions.runs.rerun"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/artifacts", action: "actions.artifacts.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/artifacts/{id}", action: "actions.artifacts.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/artifacts/{id}/{format}", action: "actions.artifacts.read"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/actions/artifacts/{id}", action: "actions.artifacts.delete"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/cache/usage", action: "actions.caches.read"},
	{method: "*", pattern: "/repos/{owner}/{repo}/actions/caches", action: "actions.caches"},
	{method: "*", pattern: "/repos/{owner}/{repo}/actions/caches/{id}", action: "actions.caches"},

	// Actions: secrets, variables, permissions, runners, OIDC. Secrets and
	// variables of a repository, an environment and an organization share
	// their actions; Owner/Repo or Org tells them apart.
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/organization-secrets", action: "actions.secrets.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/actions/organization-variables", action: "actions.variables.read"},
	{method: "*", pattern: "/repos/{owner}/{repo}/actions/secrets", action: "actions.secrets"},
	{method: "*", pattern: "/repos/{owner}/{repo}/actions/secrets/{name}", action: "actions.secrets"},
	{method: "*", pattern: "/repos/{owner}/{repo}/actions/variables", action: "actions.variables"},
	{method: "*", pattern: "/repos/{owner}/{repo}/actions/variables/{name}", action: "actions.variables"},
	{method: "*", pattern: "/repos/{owner}/{repo}/actions/permissions", action: "actions.permissions"},
	{method: "*", pattern: "/repos/{owner}/{repo}/actions/permissions/{rest...}", action: "actions.permissions"},
	{method: "*", pattern: "/repos/{owner}/{repo}/actions/runners", action: "actions.runners"},
	{method: "*", pattern: "/repos/{owner}/{repo}/actions/runners/{rest...}", action: "actions.runners"},
	{method: "*", pattern: "/repos/{owner}/{repo}/actions/oidc/{rest...}", action: "actions.oidc"},
	{method: "*", pattern: "/repos/{owner}/{repo}/environments/{env}/secrets", action: "actions.secrets"},
	{method: "*", pattern: "/repos/{owner}/{repo}/environments/{env}/secrets/{name}", action: "actions.secrets"},
	{method: "*", pattern: "/repos/{owner}/{repo}/environments/{env}/variables", action: "actions.variables"},
	{method: "*", pattern: "/repos/{owner}/{repo}/environments/{env}/variables/{name}", action: "actions.variables"},
	{method: "*", pattern: "/repositories/{id}/environments/{env}/secrets", action: "actions.secrets"},
	{method: "*", pattern: "/repositories/{id}/environments/{env}/secrets/{name}", action: "actions.secrets"},
	{method: "*", pattern: "/repositories/{id}/environments/{env}/variables", action: "actions.variables"},
	{method: "*", pattern: "/repositories/{id}/environments/{env}/variables/{name}", action: "actions.variables"},
	{method: "*", pattern: "/orgs/{org}/actions/secrets", action: "actions.secrets"},
	{method: "*", pattern: "/orgs/{org}/actions/secrets/{rest...}", action: "actions.secrets"},
	{method: "*", pattern: "/orgs/{org}/actions/variables", action: "actions.variables"},
	{method: "*", pattern: "/orgs/{org}/actions/variables/{rest...}", action: "actions.variables"},
	{method: "*", pattern: "/orgs/{org}/actions/permissions", action: "actions.permissions"},
	{method: "*", pattern: "/orgs/{org}/actions/permissions/{rest...}", action: "actions.permissions"},
	{method: "*", pattern: "/orgs/{org}/actions/runners", action: "actions.runners"},
	{method: "*", pattern: "/orgs/{org}/actions/runners/{rest...}", action: "actions.runners"},
	{method: "*", pattern: "/orgs/{org}/actions/runner-groups", action: "actions.runners"},
	{method: "*", pattern: "/orgs/{org}/actions/runner-groups/{rest...}", action: "actions.runners"},
	{method: "*", pattern: "/orgs/{org}/actions/oidc/{rest...}", action: "actions.oidc"},

	// Dependabot and Codespaces secrets, security alerts.
	{method: "*", pattern: "/repos/{owner}/{repo}/dependabot/secrets", action: "dependabot.secrets"},
	{method: "*", pattern: "/repos/{owner}/{repo}/dependabot/secrets/{name}", action: "dependabot.secrets"},
	{method: "*", pattern: "/orgs/{org}/dependabot/secrets", action: "dependabot.secrets"},
	{method: "*", pattern: "/orgs/{org}/dependabot/secrets/{rest...}", action: "dependabot.secrets"},
	{method: "*", pattern: "/repos/{owner}/{repo}/codespaces/secrets", action: "codespaces.secrets"},
	{method: "*", pattern: "/repos/{owner}/{repo}/codespaces/secrets/{name}", action: "codespaces.secrets"},
	{method: "*", pattern: "/orgs/{org}/codespaces/secrets", action: "codespaces.secrets"},
	{method: "*", pattern: "/orgs/{org}/codespaces/secrets/{rest...}", action: "codespaces.secrets"},
	{method: "*", pattern: "/user/codespaces/secrets", action: "codespaces.secrets"},
	{method: "*", pattern: "/user/codespaces/secrets/{rest...}", action: "codespaces.secrets"},
	{method: "*", pattern: "/repos/{owner}/{repo}/codespaces", action: "codespaces"},
	{method: "*", pattern: "/repos/{owner}/{repo}/codespaces/{rest...}", action: "codespaces"},
	{method: "*", pattern: "/user/codespaces", action: "codespaces"},
	{method: "*", pattern: "/user/codespaces/{rest...}", action: "codespaces"},
	{method: "*", pattern: "/repos/{owner}/{repo}/dependabot/alerts", action: "dependabot.alerts"},
	{method: "*", pattern: "/repos/{owner}/{repo}/dependabot/alerts/{number}", action: "dependabot.alerts"},
	{method: "*", pattern: "/repos/{owner}/{repo}/code-scanning/{rest...}", action: "code_scanning"},
	{method: "*", pattern: "/repos/{owner}/{repo}/secret-scanning/{rest...}", action: "secret_scanning"},

	// Releases and their assets. Asset uploads go to uploads.github.com
	// with the same path.
	{method: "GET", pattern: "/repos/{owner}/{repo}/releases", action: "releases.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/releases", action: "releases.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/releases/latest", action: "releases.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/releases/generate-notes", action: "releases.generate_notes"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/releases/tags/{tag...}", action: "releases.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/releases/assets/{id}", action: "releases.assets.read"},
	{method: "PATCH", pattern: "/repos/{owner}/{repo}/releases/assets/{id}", action: "releases.assets.update"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/releases/assets/{id}", action: "releases.assets.delete"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/releases/{id}", action: "releases.read"},
	{method: "PATCH", pattern: "/repos/{owner}/{repo}/releases/{id}", action: "releases.update"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/releases/{id}", action: "releases.delete"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/releases/{id}/assets", action: "releases.assets.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/releases/{id}/assets", action: "releases.assets.create"},
	{method: "*", pattern: "/repos/{owner}/{repo}/releases/{id}/reactions", action: "reactions"},
	{method: "*", pattern: "/repos/{owner}/{repo}/releases/{id}/reactions/{rid}", action: "reactions"},

	// Webhooks, collaborators, deploy keys.
	{method: "*", pattern: "/repos/{owner}/{repo}/hooks", action: "hooks"},
	{method: "*", pattern: "/repos/{owner}/{repo}/hooks/{rest...}", action: "hooks"},
	{method: "*", pattern: "/orgs/{org}/hooks", action: "hooks"},
	{method: "*", pattern: "/orgs/{org}/hooks/{rest...}", action: "hooks"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/collaborators", action: "collaborators.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/collaborators/{user}", action: "collaborators.read"},
	{method: "PUT", pattern: "/repos/{owner}/{repo}/collaborators/{user}", action: "collaborators.write"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/collaborators/{user}", action: "collaborators.write"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/collaborators/{user}/permission", action: "collaborators.read"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/invitations", action: "collaborators.read"},
	{method: "PATCH", pattern: "/repos/{owner}/{repo}/invitations/{id}", action: "collaborators.write"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/invitations/{id}", action: "collaborators.write"},
	{method: "GET", pattern: "/user/repository_invitations", action: "collaborators.read"},
	{method: "PATCH", pattern: "/user/repository_invitations/{id}", action: "collaborators.write"},
	{method: "DELETE", pattern: "/user/repository_invitations/{id}", action: "collaborators.write"},
	{method: "*", pattern: "/repos/{owner}/{repo}/keys", action: "keys"},
	{method: "*", pattern: "/repos/{owner}/{repo}/keys/{id}", action: "keys"},

	// Environments and deployments.
	{method: "GET", pattern: "/repos/{owner}/{repo}/environments", action: "environments.read"},
	{method: "*", pattern: "/repos/{owner}/{repo}/environments/{env}", action: "environments"},
	{method: "*", pattern: "/repos/{owner}/{repo}/environments/{env}/{rest...}", action: "environments"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/deployments", action: "deployments.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/deployments", action: "deployments.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/deployments/{id}", action: "deployments.read"},
	{method: "DELETE", pattern: "/repos/{owner}/{repo}/deployments/{id}", action: "deployments.delete"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/deployments/{id}/statuses", action: "deployments.statuses.read"},
	{method: "POST", pattern: "/repos/{owner}/{repo}/deployments/{id}/statuses", action: "deployments.statuses.create"},
	{method: "GET", pattern: "/repos/{owner}/{repo}/deployments/{id}/statuses/{sid}", action: "deployments.statuses.read"},

	// Notifications.
	{method: "*", pattern: "/notifications", action: "notifications"},
	{method: "*", pattern: "/notifications/{rest...}", action: "notifications"},
	{method: "*", pattern: "/repos/{owner}/{repo}/notifications", action: "notifications"},

	// Organizations: the organization, members, teams, rulesets, packages.
	{method: "GET", pattern: "/organizations", action: "orgs.read"},
	{method: "GET", pattern: "/orgs/{org}", action: "orgs.read"},
	{method: "PATCH", pattern: "/orgs/{org}", action: "orgs.update"},
	{method: "DELETE", pattern: "/orgs/{org}", action: "orgs.delete"},
	{method: "GET", pattern: "/orgs/{org}/installations", action: "orgs.read"},
	{method: "GET", pattern: "/orgs/{org}/members", action: "orgs.members.read"},
	{method: "GET", pattern: "/orgs/{org}/members/{user}", action: "orgs.members.read"},
	{method: "DELETE", pattern: "/orgs/{org}/members/{user}", action: "orgs.members.write"},
	{method: "GET", pattern: "/orgs/{org}/memberships/{user}", action: "orgs.members.read"},
	{method: "PUT", pattern: "/orgs/{org}/memberships/{user}", action: "orgs.members.write"},
	{method: "DELETE", pattern: "/orgs/{org}/memberships/{user}", action: "orgs.members.write"},
	{method: "GET", pattern: "/orgs/{org}/public_members", action: "orgs.members.read"},
	{method: "GET", pattern: "/orgs/{org}/public_members/{user}", action: "orgs.members.read"},
	{method: "PUT", pattern: "/orgs/{org}/public_members/{user}", action: "orgs.members.write"},
	{method: "DELETE", pattern: "/orgs/{org}/public_members/{user}", action: "orgs.members.write"},
	{method: "GET", pattern: "/orgs/{org}/outside_collaborators", action: "orgs.members.read"},
	{method: "PUT", pattern: "/orgs/{org}/outside_collaborators/{user}", action: "orgs.members.write"},
	{method: "DELETE", pattern: "/orgs/{org}/outside_collaborators/{user}", action: "orgs.members.write"},
	{method: "GET", pattern: "/orgs/{org}/invitations", action: "orgs.members.read"},
	{method: "POST", pattern: "/orgs/{org}/invitations", action: "orgs.members.write"},
	{method: "DELETE", pattern: "/orgs/{org}/invitations/{id}", action: "orgs.members.write"},
	{method: "GET", pattern: "/orgs/{org}/invitations/{id}/teams", action: "orgs.members.read"},
	{method: "GET", pattern: "/orgs/{org}/failed_invitations", action: "orgs.members.read"},
	{method: "GET", pattern: "/orgs/{org}/blocks", action: "orgs.members.read"},
	{method: "GET", pattern: "/orgs/{org}/blocks/{user}", action: "orgs.members.read"},
	{method: "PUT", pattern: "/orgs/{org}/blocks/{user}", action: "orgs.members.write"},
	{method: "DELETE", pattern: "/orgs/{org}/blocks/{user}", action: "orgs.members.write"},
	{method: "GET", pattern: "/orgs/{org}/teams", action: "orgs.teams.read"},
	{method: "POST", pattern: "/orgs/{org}/teams", action: "orgs.teams.create"},
	{method: "GET", pattern: "/orgs/{org}/teams/{team}", action: "orgs.teams.read"},
	{method: "PATCH", pattern: "/orgs/{org}/teams/{team}", action: "orgs.teams.update"},
	{method: "DELETE", pattern: "/orgs/{org}/teams/{team}", action: "orgs.teams.delete"},
	{method: "GET", pattern: "/orgs/{org}/teams/{team}/members", action: "orgs.teams.read"},
	{method: "GET", pattern: "/orgs/{org}/teams/{team}/teams", action: "orgs.teams.read"},
	{method: "GET", pattern: "/orgs/{org}/teams/{team}/memberships/{user}", action: "orgs.teams.read"},
	{method: "PUT", pattern: "/orgs/{org}/teams/{team}/memberships/{user}", action: "orgs.teams.members.write"},
	{method: "DELETE", pattern: "/orgs/{org}/teams/{team}/memberships/{user}", action: "orgs.teams.members.write"},
	{method: "GET", pattern: "/orgs/{org}/teams/{team}/repos", action: "orgs.teams.read"},
	{method: "GET", pattern: "/orgs/{org}/teams/{team}/repos/{owner}/{repo}", action: "orgs.teams.read"},
	{method: "PUT", pattern: "/orgs/{org}/teams/{team}/repos/{owner}/{repo}", action: "orgs.teams.repos.write"},
	{method: "DELETE", pattern: "/orgs/{org}/teams/{team}/repos/{owner}/{repo}", action: "orgs.teams.repos.write"},
	{method: "*", pattern: "/orgs/{org}/rulesets", action: "rulesets"},
	{method: "*", pattern: "/orgs/{org}/rulesets/{rest...}", action: "rulesets"},
	{method: "*", pattern: "/orgs/{org}/packages", action: "packages"},
	{method: "*", pattern: "/orgs/{org}/packages/{rest...}", action: "packages"},
	{method: "GET", pattern: "/user/orgs", action: "orgs.read"},
	{method: "GET", pattern: "/users/{username}/orgs", action: "orgs.read"},
	{method: "GET", pattern: "/user/memberships/orgs", action: "orgs.members.read"},
	{method: "GET", pattern: "/user/memberships/orgs/{org}", action: "orgs.members.read"},
	{method: "PATCH", pattern: "/user/memberships/orgs/{org}", action: "orgs.members.write"},

	// The authenticated user and other users.
	{method: "GET", pattern: "/user", action: "user.read"},
	{method: "PATCH", pattern: "/user", action: "user.update"},
	{method: "GET", pattern: "/user/installations", action: "user.read"},
	{method: "GET", pattern: "/user/installations/{id}/repositories", action: "user.read"},
	{method: "*", pattern: "/user/emails", action: "user.emails"},
	{method: "*", pattern: "/user/keys", action: "user.keys"},
	{method: "*", pattern: "/user/keys/{id}", action: "user.keys"},
	{method: "*", pattern: "/user/gpg_keys", action: "user.keys"},
	{method: "*", pattern: "/user/gpg_keys/{id}", action: "user.keys"},
	{method: "*", pattern: "/user/ssh_signing_keys", action: "user.keys"},
	{method: "*", pattern: "/user/ssh_signing_keys/{id}", action: "user.keys"},
	{method: "*", pattern: "/user/followers", action: "user.follows"},
	{method: "*", pattern: "/user/following", action: "user.follows"},
	{method: "*", pattern: "/user/following/{username}", action: "user.follows"},
	{method: "*", pattern: "/user/starred", action: "user.starred"},
	{method: "*", pattern: "/user/starred/{owner}/{repo}", action: "user.starred"},
	{method: "*", pattern: "/user/subscriptions", action: "user.subscriptions"},
	{method: "*", pattern: "/user/packages", action: "packages"},
	{method: "*", pattern: "/user/packages/{rest...}", action: "packages"},
	{method: "GET", pattern: "/users", action: "users.read"},
	{method: "GET", pattern: "/users/{username}", action: "users.read"},
	{method: "GET", pattern: "/users/{username}/{rest...}", action: "users.read"},

	// Gists and search.
	{method: "*", pattern: "/gists", action: "gists"},
	{method: "*", pattern: "/gists/{rest...}", action: "gists"},
	{method: "GET", pattern: "/search/{kind}", action: "search.read"},
}

// patternSegment is one segment of a parsed pattern.
type patternSegment struct {
	lit     string  // the fixed segment, lower-case, when capture is capNone
	capture capture // what the placeholder fills, if it is one
}

// capture says which Operation field a placeholder fills.
type capture uint8

const (
	capNone   capture = iota // a fixed segment
	capOther                 // a placeholder that fills nothing
	capOwner                 // Owner
	capRepo                  // Repo
	capOrg                   // Org
	capPath                  // FilePath
	capRef                   // Ref, and Branch for refs/heads/
	capBranch                // Branch and Ref
	capTag                   // Ref under refs/tags/
)

// captures maps placeholder names that fill Operation to what they fill.
var captures = map[string]capture{
	"owner": capOwner, "repo": capRepo, "org": capOrg,
	"path": capPath, "ref": capRef, "branch": capBranch, "tag": capTag,
}

// bucketKey narrows the routes to try: the first path segment, and for
// /repos/{owner}/{repo}/... paths the fourth ("" for /repos/{owner}/{repo}
// itself).
type bucketKey struct {
	first, sub string
}

// routeIndex is the route table split into buckets.
type routeIndex struct {
	routes  []route
	buckets map[bucketKey][]*route
}

// index is the parsed route table that Classify looks routes up in.
var index = mustIndex(routes)

// mustIndex parses the route table, panicking on a malformed entry: the
// table is fixed, and the package's tests load it.
func mustIndex(table []route) *routeIndex {
	idx, err := newIndex(table)
	if err != nil {
		panic(err)
	}
	return idx
}

// newIndex parses every pattern of table and groups the routes by
// bucketKey, keeping table order within a bucket.
func newIndex(table []route) (*routeIndex, error) {
	idx := &routeIndex{
		routes:  make([]route, len(table)),
		buckets: make(map[bucketKey][]*route),
	}
	copy(idx.routes, table)
	for i := range idx.routes {
		r := &idx.routes[i]
		if err := r.parse(); err != nil {
			return nil, fmt.Errorf("route %s %s: %w", r.method, r.pattern, err)
		}
		var key bucketKey
		if len(r.segs) > 0 {
			key.first = r.segs[0].lit
		}
		if key.first == "repos" && len(r.segs) > 3 {
			key.sub = r.segs[3].lit
		}
		idx.buckets[key] = append(idx.buckets[key], r)
	}
	return idx, nil
}

// parse fills the derived fields of r from its pattern and action.
func (r *route) parse() error {
	if r.method == "" || r.method != strings.ToUpper(r.method) {
		return fmt.Errorf("method %q is not upper-case", r.method)
	}
	if r.action == "" || strings.HasPrefix(r.action, "unknown") {
		return fmt.Errorf("action %q is empty or reserved", r.action)
	}
	if r.method == "*" {
		for v, name := range verbNames {
			r.verbActions[v] = r.action + "." + name
		}
		r.resource = r.action
	} else {
		i := strings.LastIndexByte(r.action, '.')
		if i <= 0 {
			return fmt.Errorf("action %q has no verb", r.action)
		}
		r.resource = r.action[:i]
	}

	if !strings.HasPrefix(r.pattern, "/") {
		return fmt.Errorf("pattern does not start with /")
	}
	r.greedy = -1
	for _, s := range splitPath(r.pattern, nil) {
		name, ok := strings.CutPrefix(s.s, "{")
		if !ok {
			if s.s == "" || s.s != strings.ToLower(s.s) || strings.ContainsAny(s.s, "{}") {
				return fmt.Errorf("fixed segment %q is empty, not lower-case or has a brace", s.s)
			}
			r.segs = append(r.segs, patternSegment{lit: s.s})
			continue
		}
		name, ok = strings.CutSuffix(name, "}")
		if !ok || name == "" {
			return fmt.Errorf("malformed placeholder %q", s.s)
		}
		if name, ok = strings.CutSuffix(name, "..."); ok {
			if r.greedy >= 0 {
				return fmt.Errorf("more than one greedy placeholder")
			}
			r.greedy = len(r.segs)
		}
		c, ok := captures[name]
		if !ok {
			c = capOther
		}
		r.segs = append(r.segs, patternSegment{capture: c})
	}

	if len(r.segs) > 0 && r.segs[0].capture != capNone {
		return fmt.Errorf("first segment is a placeholder")
	}
	if len(r.segs) > 0 && r.segs[0].lit == "repos" {
		if len(r.segs) < 3 || r.segs[1].capture == capNone || r.segs[2].capture == capNone {
			return fmt.Errorf("a /repos pattern must start /repos/{owner}/{repo}")
		}
		if len(r.segs) > 3 && r.segs[3].capture != capNone {
			return fmt.Errorf("the fourth segment of a /repos pattern must be fixed")
		}
	}
	return nil
}

// bucket returns the routes that a path with segments segs can match.
func (idx *routeIndex) bucket(segs []segment) []*route {
	var key bucketKey
	if len(segs) > 0 {
		key.first = asciiLower(segs[0].s)
	}
	if key.first == "repos" && len(segs) > 3 {
		key.sub = asciiLower(segs[3].s)
	}
	return idx.buckets[key]
}

// match reports whether the path with segments segs matches r, and if so
// fills op's captured fields. It leaves op alone when it does not match.
func (r *route) match(path string, segs []segment, op *Operation) bool {
	n := len(r.segs)
	extra := 0 // segments a greedy placeholder takes beyond its first
	if r.greedy < 0 {
		if len(segs) != n {
			return false
		}
	} else {
		if len(segs) < n {
			return false
		}
		extra = len(segs) - n
	}

	// First pass: check without touching op.
	for i, ps := range r.segs {
		j := i
		if r.greedy >= 0 && i > r.greedy {
			j += extra
		}
		if ps.capture == capNone {
			if !foldEqual(segs[j].s, ps.lit) {
				return false
			}
			continue
		}
		last := j
		if i == r.greedy {
			last += extra
		}
		for k := j; k <= last; k++ {
			if segs[k].s == "" {
				return false
			}
		}
	}

	// Second pass: capture.
	for i, ps := range r.segs {
		if ps.capture == capNone || ps.capture == capOther {
			continue
		}
		j := i
		if r.greedy >= 0 && i > r.greedy {
			j += extra
		}
		value := segs[j].s
		if i == r.greedy {
			end := segs[j+extra]
			value = path[segs[j].off : end.off+len(end.s)]
		}
		switch ps.capture {
		case capOwner:
			op.Owner = value
		case capRepo:
			op.Repo = value
		case capOrg:
			op.Org = value
		case capPath:
			op.FilePath = value
		case capRef:
			if !strings.HasPrefix(value, "refs/") {
				value = "refs/" + value
			}
			op.Ref = value
			if b, ok := strings.CutPrefix(value, "refs/heads/"); ok {
				op.Branch = b
			}
		case capBranch:
			op.Branch = value
			op.Ref = "refs/heads/" + value
		case capTag:
			op.Ref = "refs/tags/" + value
		}
	}
	return true
}
