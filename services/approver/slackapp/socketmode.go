package slackapp

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode runs the same interactions as NewHandler over Socket Mode,
// which needs no public URL: Slack's WebSocket carries them, so there is no
// signature to check (the app-level token authenticates the connection).
// api must be made with both the bot token and
// slack.OptionAppLevelToken(the xapp- token, with the connections:write
// scope). Each interactive event is acknowledged and goes through the same
// Click and deny-dialog flow; other events are acknowledged and ignored.
//
// It returns nil when ctx ends, once the interactions under way are done
// (their judges see ctx end), and an error when the connection cannot be
// opened (a bad app-level token, for one).
func RunSocketMode(ctx context.Context, api *slack.Client, judge Judge, log *slog.Logger) error {
	client := socketmode.New(api)
	in := &interactions{api: api, judge: judge, log: log}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- client.RunContext(ctx) }()

	var running sync.WaitGroup
	defer running.Wait()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("running socket mode: %w", err)
		case evt := <-client.Events:
			switch evt.Type {
			case socketmode.EventTypeInteractive:
				cb, ok := evt.Data.(slack.InteractionCallback)
				if !ok || evt.Request == nil {
					continue
				}
				req := *evt.Request
				running.Go(func() { in.socketInteraction(ctx, client, req, cb) })
			case socketmode.EventTypeEventsAPI, socketmode.EventTypeSlashCommand:
				if evt.Request != nil {
					_ = client.AckCtx(ctx, evt.Request.EnvelopeID, nil)
				}
			case socketmode.EventTypeConnected:
				log.Info("slack socket mode connected")
			case socketmode.EventTypeConnectionError:
				if e, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
					log.Warn("slack socket mode connection failed", "attempt", e.Attempt, "backoff", e.Backoff, "err", e.ErrorObj)
				}
			case socketmode.EventTypeInvalidAuth:
				log.Error("slack socket mode: the app-level token was refused")
			case socketmode.EventTypeErrorBadMessage:
				// The message itself may hold user data: log only the cause.
				if e, ok := evt.Data.(*socketmode.ErrorBadMessage); ok {
					log.Debug("slack socket mode: unreadable message", "err", e.Cause)
				}
			}
		}
	}
}

// socketInteraction handles one interactive event: it carries out the step,
// then acknowledges the envelope with the answer (a view submission's
// errors, if any) within Slack's 3 seconds, then tells the clicker of a
// refusal.
func (in *interactions) socketInteraction(ctx context.Context, client *socketmode.Client, req socketmode.Request, cb slack.InteractionCallback) {
	st, err := parseInteraction(&cb)
	if err != nil {
		in.log.Warn("unreadable slack interaction", "err", err)
		_ = client.AckCtx(ctx, req.EnvelopeID, nil)
		return
	}
	answer, refusal := in.run(ctx, st)
	var payload any
	if answer != nil {
		payload = answer
	}
	if err := client.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		in.log.Warn("acknowledging a slack interaction", "approval_id", st.click.ApprovalID, "err", err)
	}
	if refusal != "" {
		// The clicker is told even if RunSocketMode is stopping meanwhile.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ephemeralTimeout)
		defer cancel()
		c := st.click
		if err := postEphemeral(ctx, in.api, c.Channel, c.UserID, refusal); err != nil {
			in.log.Warn("telling the clicker why", "approval_id", c.ApprovalID, "user_id", c.UserID, "err", err)
		}
	}
}
