package slackapp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// judgeTimeout bounds the work done for one interaction before Slack gets
// its answer: Slack gives up after 3 seconds.
const judgeTimeout = 2500 * time.Millisecond

// The deny dialog.
const (
	denyCallbackID = "airlock_deny"
	reasonBlockID  = "reason"
	reasonActionID = "reason"
	maxReason      = 500
)

// Messages shown to the clicker when something other than the judge fails.
const (
	msgTimeout  = "Airlock could not confirm your decision in time. Look at the approval message before you click again."
	msgNoDialog = "Airlock could not open the deny dialog. Try again."
)

// stepKind is what an interaction asks for.
type stepKind int

const (
	stepIgnore     stepKind = iota // not ours, or nothing to do
	stepOpenDeny                   // a Deny click: ask for a reason
	stepJudge                      // an approve click or a deny with its reason
	stepNeedReason                 // a deny dialog submitted with a blank reason
)

// step is what one interaction callback asks for.
type step struct {
	kind stepKind
	// click is the Click to judge (stepJudge), or the approval, message
	// and user the deny dialog is about (stepOpenDeny, stepNeedReason).
	click Click
	// trigger is the trigger id views.open needs (stepOpenDeny).
	trigger string
	// why says why the interaction is ignored, for the debug log.
	why string
}

// denyMeta is the deny dialog's private_metadata: Slack hands it back,
// inside the signed view_submission, when the dialog is submitted.
type denyMeta struct {
	ApprovalID string `json:"approval_id"`
	Channel    string `json:"channel"`
	TS         string `json:"ts"`
}

// parseInteraction says what an interaction callback asks for. The HTTP
// handler and Socket Mode both use it. An error is a payload that claims
// to be one of ours (an Airlock button or the deny dialog) but cannot be
// read; anything else that is not ours is stepIgnore.
func parseInteraction(cb *slack.InteractionCallback) (step, error) {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		return parseBlockActions(cb)
	case slack.InteractionTypeViewSubmission:
		return parseDenySubmission(cb)
	default:
		return step{kind: stepIgnore, why: "interaction type " + string(cb.Type)}, nil
	}
}

func parseBlockActions(cb *slack.InteractionCallback) (step, error) {
	for _, a := range cb.ActionCallback.BlockActions {
		var outcome string
		switch {
		case a.ActionID == denyActionID:
			outcome = Deny
		case strings.HasPrefix(a.ActionID, approveActionID+"_"):
			outcome = Approve
		default:
			continue
		}
		id, window, err := parseButtonValue(a.Value)
		if err != nil {
			return step{}, fmt.Errorf("reading %s: %w", a.ActionID, err)
		}
		if cb.User.ID == "" {
			return step{}, fmt.Errorf("reading %s: no user", a.ActionID)
		}
		c := Click{
			ApprovalID: id,
			Outcome:    outcome,
			UserID:     cb.User.ID,
			UserName:   userName(cb.User),
			Channel:    firstOf(cb.Container.ChannelID, cb.Channel.ID),
			MessageTS:  firstOf(cb.Container.MessageTs, cb.Message.Timestamp),
		}
		if outcome == Deny {
			if cb.TriggerID == "" {
				return step{}, fmt.Errorf("reading %s: no trigger id", a.ActionID)
			}
			return step{kind: stepOpenDeny, click: c, trigger: cb.TriggerID}, nil
		}
		c.Window = window
		c.Key = interactionKey(cb, a.ActionTs, c)
		return step{kind: stepJudge, click: c}, nil
	}
	return step{kind: stepIgnore, why: "no Airlock action"}, nil
}

func parseDenySubmission(cb *slack.InteractionCallback) (step, error) {
	if cb.View.CallbackID != denyCallbackID {
		return step{kind: stepIgnore, why: "view " + cb.View.CallbackID}, nil
	}
	var m denyMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &m); err != nil {
		return step{}, fmt.Errorf("reading the deny dialog's metadata: %w", err)
	}
	if m.ApprovalID == "" || cb.User.ID == "" {
		return step{}, errors.New("reading the deny dialog: no approval id or no user")
	}
	c := Click{
		ApprovalID: m.ApprovalID,
		Outcome:    Deny,
		UserID:     cb.User.ID,
		UserName:   userName(cb.User),
		Channel:    m.Channel,
		MessageTS:  m.TS,
	}
	if cb.View.State != nil {
		c.Reason = strings.TrimSpace(cb.View.State.Values[reasonBlockID][reasonActionID].Value)
	}
	if c.Reason == "" {
		return step{kind: stepNeedReason, click: c}, nil
	}
	c.Reason = clip(c.Reason, maxReason)
	c.Key = interactionKey(cb, cb.View.ID, c)
	return step{kind: stepJudge, click: c}, nil
}

// interactionKey is Click.Key: the same for the same interaction delivered
// twice, different for two interactions. slackID is Slack's id for the
// interaction: the action's action_ts, or the submitted view's id (a
// dialog is submitted once).
func interactionKey(cb *slack.InteractionCallback, slackID string, c Click) string {
	h := sha256.New()
	for _, s := range []string{
		string(cb.Type), cb.Team.ID, slackID, c.UserID, c.ApprovalID, c.Outcome,
		strconv.FormatInt(int64(c.Window), 10),
	} {
		// Length-prefixed, so that no two lists of fields hash alike.
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// interactions carries out steps: it opens the deny dialog and calls the
// judge.
type interactions struct {
	api   *slack.Client
	judge Judge
	log   *slog.Logger
}

// run carries out st within ctx (bounded further by judgeTimeout). It
// returns the answer a view submission gets (nil: an empty answer, which
// closes the dialog) and the text to show the clicker ("" for none).
func (in *interactions) run(ctx context.Context, st step) (answer *slack.ViewSubmissionResponse, refusal string) {
	ctx, cancel := context.WithTimeout(ctx, judgeTimeout)
	defer cancel()
	switch st.kind {
	case stepIgnore:
		in.log.Debug("slack interaction ignored", "why", st.why)
	case stepOpenDeny:
		if _, err := in.api.OpenViewContext(ctx, st.trigger, denyModal(st.click)); err != nil {
			in.log.Warn("opening the deny dialog", "approval_id", st.click.ApprovalID, "user_id", st.click.UserID, "err", err)
			return nil, msgNoDialog
		}
	case stepNeedReason:
		return slack.NewErrorsViewSubmissionResponse(map[string]string{reasonBlockID: "Say why you deny this request."}), ""
	case stepJudge:
		c := st.click
		if err := in.judge(ctx, c); err != nil {
			in.log.Info("slack click refused", "approval_id", c.ApprovalID, "user_id", c.UserID,
				"outcome", c.Outcome, "err", err)
			return nil, refusalText(err)
		}
		in.log.Info("slack click accepted", "approval_id", c.ApprovalID, "user_id", c.UserID,
			"outcome", c.Outcome, "window", c.Window)
	}
	return nil, ""
}

// refusalText is what the clicker sees of a judge's error.
func refusalText(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return msgTimeout
	}
	return clip(err.Error(), 1000)
}

// denyModal asks for the reason of a deny.
func denyModal(c Click) slack.ModalViewRequest {
	meta, _ := json.Marshal(denyMeta{ApprovalID: c.ApprovalID, Channel: c.Channel, TS: c.MessageTS})
	input := slack.NewPlainTextInputBlockElement(plain("Why is this request denied?"), reasonActionID).
		WithMultiline(true).WithMaxLength(maxReason)
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           plain("Deny request"),
		Submit:          plain("Deny"),
		Close:           plain("Cancel"),
		CallbackID:      denyCallbackID,
		PrivateMetadata: string(meta),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(mrkdwn("Deny approval "+escape(c.ApprovalID)+"? The held request will be refused."), nil, nil),
			slack.NewInputBlock(reasonBlockID, plain("Reason"),
				plain("Shown in the approval message and recorded in the audit log."), input),
		}},
	}
}

func userName(u slack.User) string { return firstOf(u.Username, u.Name) }

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
