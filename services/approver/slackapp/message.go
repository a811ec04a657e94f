package slackapp

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// MaxPreview is how many characters of Request.Preview the message shows.
const MaxPreview = 2500

// maxWindows bounds Request.Windows: an actions block holds at most 25
// elements, two of which are "Approve once" and "Deny".
const maxWindows = 23

// Block and action ids of the approval message. The handler recognises a
// click by them.
const (
	actionsBlockID  = "airlock_decision"
	approveActionID = "airlock_approve" // followed by "_once" or "_<window>"
	denyActionID    = "airlock_deny"
)

// Poster posts and updates approval messages.
type Poster struct {
	api     *slack.Client
	channel string
}

// NewPoster returns a Poster that posts to channel (an id such as C0123, or
// a name the bot is a member of) with api, a client made with the bot token.
func NewPoster(api *slack.Client, channel string) *Poster {
	return &Poster{api: api, channel: channel}
}

// Post posts the approval message: a header; who asks (identity and
// groups); what (connection, action, summary, method and path); the rule
// that held it and its reason; the preview; the expiry; and the buttons
// "Approve once", one "Approve for N min" per window, and "Deny", each
// carrying the approval id and the window in its value. It returns the
// channel id and the message's ts, which locate it for Update.
func (p *Poster) Post(ctx context.Context, r Request) (channel, ts string, err error) {
	if err := validRequest(r); err != nil {
		return "", "", fmt.Errorf("posting approval %s: %w", r.ApprovalID, err)
	}
	blocks := append(requestBlocks(r), actionsBlock(r))
	channel, ts, err = p.api.PostMessageContext(ctx, p.channel,
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionText(fallback(r), true),
	)
	if err != nil {
		return "", "", fmt.Errorf("posting approval %s: %w", r.ApprovalID, err)
	}
	return channel, ts, nil
}

// Update replaces the message's buttons with the outcome: who decided
// (<@U…>), when, and "approved once", "approved for N minutes" or "denied"
// with the reason.
func (p *Poster) Update(ctx context.Context, channel, ts string, r Request, d Decision) error {
	outcome, err := decisionBlock(d)
	if err != nil {
		return fmt.Errorf("updating approval %s: %w", r.ApprovalID, err)
	}
	blocks := append(requestBlocks(r), outcome)
	if _, _, _, err := p.api.UpdateMessageContext(ctx, channel, ts,
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionText(escape(fallback(r))+": "+decisionText(d), false),
	); err != nil {
		return fmt.Errorf("updating approval %s: %w", r.ApprovalID, err)
	}
	return nil
}

// Refuse posts an ephemeral message, which only user sees, in channel: for
// example "you are not an approver for this request", "you cannot approve
// your own request", "already decided".
func (p *Poster) Refuse(ctx context.Context, channel, user, text string) error {
	return postEphemeral(ctx, p.api, channel, user, text)
}

func postEphemeral(ctx context.Context, api *slack.Client, channel, user, text string) error {
	if _, err := api.PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(text, true)); err != nil {
		return fmt.Errorf("posting ephemeral message: %w", err)
	}
	return nil
}

// LookupEmails resolves approver emails to Slack user ids with
// users.lookupByEmail (the bot needs the users:read.email scope). An email
// with no Slack account is simply absent from the map: that is an answer,
// not a failure. The error names each email whose lookup failed (Slack
// unreachable, a missing scope, rate limited); the map still holds every
// email that was resolved.
func LookupEmails(ctx context.Context, api *slack.Client, emails []string) (map[string]string, error) {
	ids := make(map[string]string, len(emails))
	asked := make(map[string]bool, len(emails))
	var errs []error
	for _, email := range emails {
		if asked[email] {
			continue
		}
		asked[email] = true
		u, err := api.GetUserByEmailContext(ctx, email)
		if e, ok := errors.AsType[slack.SlackErrorResponse](err); ok && e.Err == "users_not_found" {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("looking up %s: %w", email, err))
			continue
		}
		ids[email] = u.ID
	}
	return ids, errors.Join(errs...)
}

func validRequest(r Request) error {
	var errs []error
	if r.ApprovalID == "" {
		errs = append(errs, errors.New("approval id is empty"))
	}
	if strings.Contains(r.ApprovalID, "|") || len(r.ApprovalID) > 100 {
		errs = append(errs, errors.New(`approval id contains "|" or is over 100 bytes`))
	}
	if len(r.Windows) > maxWindows {
		errs = append(errs, fmt.Errorf("%d windows, at most %d fit", len(r.Windows), maxWindows))
	}
	seen := map[time.Duration]bool{}
	for _, w := range r.Windows {
		w = w.Truncate(time.Second) // what a button carries
		switch {
		case w <= 0:
			errs = append(errs, fmt.Errorf("window %s is not a positive number of seconds", w))
		case seen[w]:
			errs = append(errs, fmt.Errorf("window %s is offered twice", w))
		}
		seen[w] = true
	}
	return errors.Join(errs...)
}

// requestBlocks are the blocks that describe the request: everything but
// the buttons or the outcome. Text the agent controls is escaped and put in
// verbatim mrkdwn, so it can neither mention anyone nor make a link.
func requestBlocks(r Request) []slack.Block {
	who := escape(r.Identity)
	if len(r.Groups) > 0 {
		who += "\n" + escape(strings.Join(r.Groups, ", "))
	}
	fields := []*slack.TextBlockObject{
		field("Who", who),
		field("Connection", escape(r.Connection)),
		field("Action", escape(r.Action)),
		field("Request", escape(r.Method+" "+r.Path)),
		field("Rule", escape(r.Rule)),
		field("Expires", slackDate(r.Expires)),
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "Approval needed", false, false)),
		slack.NewSectionBlock(mrkdwn(clip(escape(r.Summary), 2900)), nil, nil),
		slack.NewSectionBlock(nil, fields, nil),
		slack.NewSectionBlock(mrkdwn("*Why it is held*\n"+clip(escape(r.Reason), 2900)), nil, nil),
	}
	blocks = append(blocks, previewBlocks(r.Preview)...)
	blocks = append(blocks, slack.NewContextBlock("",
		mrkdwn("approval "+escape(r.ApprovalID)+" · request "+escape(r.RequestID))))
	return blocks
}

// previewBlocks shows the preview in a preformatted rich-text block: its
// text is literal, so a backtick, "<!channel>" or a link in a change shows
// as typed and cannot end the code block.
func previewBlocks(preview string) []slack.Block {
	if preview == "" {
		return []slack.Block{slack.NewContextBlock("", mrkdwn("No preview of the change."))}
	}
	shown, total := preview, utf8.RuneCountInString(preview)
	if total > MaxPreview {
		shown = clip(preview, MaxPreview)
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn("*Preview* (masked)"), nil, nil),
		slack.NewRichTextBlock("", &slack.RichTextPreformatted{
			Type:     slack.RTEPreformatted,
			Elements: []slack.RichTextSectionElement{slack.NewRichTextSectionTextElement(shown, nil)},
		}),
	}
	if total > MaxPreview {
		blocks = append(blocks, slack.NewContextBlock("",
			mrkdwn(fmt.Sprintf("Preview truncated: first %s of %s characters.", thousands(MaxPreview), thousands(total)))))
	}
	return blocks
}

// actionsBlock holds the buttons. A button's value is
// "<approval id>|<window in seconds>", 0 for once and for Deny.
func actionsBlock(r Request) *slack.ActionBlock {
	buttons := []slack.BlockElement{
		slack.NewButtonBlockElement(approveActionID+"_once", buttonValue(r.ApprovalID, 0),
			plain("Approve once")).WithStyle(slack.StylePrimary),
	}
	for _, w := range r.Windows {
		buttons = append(buttons, slack.NewButtonBlockElement(
			approveActionID+"_"+strconv.FormatInt(int64(w/time.Second), 10)+"s", buttonValue(r.ApprovalID, w),
			plain("Approve for "+shortDuration(w))))
	}
	buttons = append(buttons, slack.NewButtonBlockElement(denyActionID, buttonValue(r.ApprovalID, 0),
		plain("Deny")).WithStyle(slack.StyleDanger))
	return slack.NewActionBlock(actionsBlockID, buttons...)
}

func buttonValue(approvalID string, window time.Duration) string {
	return approvalID + "|" + strconv.FormatInt(int64(window/time.Second), 10)
}

// parseButtonValue reads a value written by buttonValue. Its errors do not
// quote the value: they are logged.
func parseButtonValue(v string) (approvalID string, window time.Duration, err error) {
	i := strings.LastIndexByte(v, '|')
	if i <= 0 {
		return "", 0, errors.New("button value has no approval id")
	}
	secs, err := strconv.ParseInt(v[i+1:], 10, 64)
	if err != nil || secs < 0 || secs > int64(365*24*time.Hour/time.Second) {
		return "", 0, errors.New("button value has no valid window")
	}
	return v[:i], time.Duration(secs) * time.Second, nil
}

func decisionBlock(d Decision) (slack.Block, error) {
	if d.Outcome != Approve && d.Outcome != Deny {
		return nil, fmt.Errorf("unknown outcome %q", d.Outcome)
	}
	text := decisionText(d)
	if d.Outcome == Approve {
		text = ":white_check_mark: " + text
	} else {
		text = ":no_entry: " + text
	}
	return slack.NewSectionBlock(mrkdwn(text), nil, nil, slack.SectionBlockOptionBlockID("airlock_outcome")), nil
}

// decisionText is "Approved once by <@U1> <date>", "Approved for 15
// minutes by …" or "Denied by … : reason".
func decisionText(d Decision) string {
	var s string
	switch {
	case d.Outcome == Deny:
		s = "Denied"
	case d.Window > 0:
		s = "Approved for " + longDuration(d.Window)
	default:
		s = "Approved once"
	}
	switch {
	case slackUserID.MatchString(d.By):
		s += " by <@" + d.By + ">"
	case d.By != "":
		// Not a Slack user: a decision taken with the CLI, say.
		s += " by " + escape(d.By)
	}
	if !d.At.IsZero() {
		s += " " + slackDate(d.At)
	}
	if d.Outcome == Deny && d.Reason != "" {
		s += ": " + clip(escape(d.Reason), 2000)
	}
	return s
}

// fallback is the message's notification text.
func fallback(r Request) string {
	s := "Approval needed: " + r.Action
	if r.Summary != "" {
		s = "Approval needed: " + r.Summary
	}
	return clip(s+" ("+r.Identity+")", 300)
}

// slackDate shows t in each reader's time zone, with UTC as the fallback.
func slackDate(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// shortDuration is "15 min", "2 h", or Go's form for what is not whole
// minutes.
func shortDuration(w time.Duration) string {
	switch {
	case w >= time.Hour && w%time.Hour == 0:
		return strconv.Itoa(int(w/time.Hour)) + " h"
	case w%time.Minute == 0:
		return strconv.Itoa(int(w/time.Minute)) + " min"
	default:
		return w.String()
	}
}

func longDuration(w time.Duration) string {
	if w%time.Minute != 0 {
		return w.String()
	}
	m := int(w / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return strconv.Itoa(m) + " minutes"
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// slackUserID matches a Slack user id (U… or, in Enterprise Grid, W…).
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escape makes text safe for mrkdwn: Slack's control sequences (<@U…>,
// <!channel>, <url|label>) all start with "<".
func escape(s string) string { return escaper.Replace(s) }

// clip cuts s to at most n characters, marking the cut with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func field(label, value string) *slack.TextBlockObject {
	if value == "" {
		value = "–"
	}
	return mrkdwn("*" + label + "*\n" + clip(value, 1900))
}

// mrkdwn is verbatim: Slack does not turn bare URLs, #channels or @here in
// it into links or mentions.
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}
