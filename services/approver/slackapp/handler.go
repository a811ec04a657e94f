package slackapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

const (
	// maxBody bounds an interaction's body. A block_actions payload echoes
	// the whole approval message, preview included; 64 KiB holds it with
	// room to spare.
	maxBody = 64 << 10
	// maxSkew is how far a request's timestamp may be from now, either way.
	maxSkew = 5 * time.Minute
	// ephemeralTimeout bounds posting a refusal, which happens after Slack
	// has had its answer.
	ephemeralTimeout = 10 * time.Second
)

// handler is the HTTP interactivity endpoint.
type handler struct {
	secret string
	in     *interactions
	log    *slog.Logger
	// now is the clock the timestamp is checked against; tests set it.
	now func() time.Time
	// posts tracks the refusals being posted after the answer; tests wait
	// for it.
	posts sync.WaitGroup
}

// NewHandler returns the HTTP interactivity endpoint (the Slack app's
// Request URL). api is a client made with the bot token, for views.open and
// chat.postEphemeral.
//
// It refuses, with a JSON error, a body over 64 KiB (413), a request whose
// X-Slack-Signature is missing or wrong or whose X-Slack-Request-Timestamp
// is more than 5 minutes from now either way (401), and a payload that
// does not parse (400). Nothing of the body is read before the signature
// is checked.
//
// An approve click becomes a Click at once. A Deny click opens a dialog
// (views.open) asking for the reason; its submission becomes a Click with
// Outcome Deny and the Reason. The judge runs before Slack gets its answer,
// bounded by a 2.5-second deadline; its error is posted to the clicker as
// an ephemeral message after the answer, which is 200 whatever the judge
// said, as Slack requires.
func NewHandler(signingSecret string, api *slack.Client, judge Judge, log *slog.Logger) http.Handler {
	return &handler{
		secret: signingSecret,
		in:     &interactions{api: api, judge: judge, log: log},
		log:    log,
		now:    time.Now,
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, r, http.StatusMethodNotAllowed, "method not allowed", "interactions are POSTed")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), judgeTimeout)
	defer cancel()

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		h.fail(w, r, http.StatusRequestEntityTooLarge, "payload too large", fmt.Sprintf("the body is over %d bytes", maxBody))
		return
	}
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "bad request", "reading the body failed")
		return
	}
	if err := h.verify(r.Header, body); err != nil {
		h.fail(w, r, http.StatusUnauthorized, "unauthorized", err.Error())
		return
	}

	r.Body = io.NopCloser(bytes.NewReader(body))
	cb, err := slack.InteractionCallbackParse(r)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "malformed payload", "the payload form field is missing or is not an interaction")
		return
	}
	st, err := parseInteraction(&cb)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "malformed payload", err.Error())
		return
	}

	answer, refusal := h.in.run(ctx, st)
	if refusal != "" {
		c := st.click
		h.posts.Go(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), ephemeralTimeout)
			defer cancel()
			if err := postEphemeral(ctx, h.in.api, c.Channel, c.UserID, refusal); err != nil {
				h.log.Warn("telling the clicker why", "approval_id", c.ApprovalID, "user_id", c.UserID, "err", err)
			}
		})
	}
	if answer != nil {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// verify checks the request's v0 signature (HMAC-SHA256 of
// "v0:<timestamp>:<body>" with the signing secret) and its timestamp.
//
// slack-go's verifier checks the timestamp too, but against time.Now; the
// check here uses h.now, so that it can be tested with a fixed clock. In
// production both clocks are the same.
func (h *handler) verify(header http.Header, body []byte) error {
	ts := header.Get("X-Slack-Request-Timestamp")
	if ts == "" || header.Get("X-Slack-Signature") == "" {
		return errors.New("X-Slack-Signature or X-Slack-Request-Timestamp is missing")
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("X-Slack-Request-Timestamp is not a Unix time")
	}
	if skew := h.now().Sub(time.Unix(secs, 0)); skew > maxSkew || skew < -maxSkew {
		return errors.New("X-Slack-Request-Timestamp is more than 5 minutes from now")
	}
	sv, err := slack.NewSecretsVerifier(header, h.secret)
	if err != nil {
		// The errors name the header at fault, never the secret.
		return fmt.Errorf("checking the signature: %w", err)
	}
	if _, err := sv.Write(body); err != nil {
		return fmt.Errorf("checking the signature: %w", err)
	}
	if err := sv.Ensure(); err != nil {
		return errors.New("the signature does not match")
	}
	return nil
}

// fail answers with Airlock's JSON error and logs the refusal, never the
// body.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, msg, reason string) {
	h.log.Warn("slack interaction refused", "status", status, "reason", reason, "remote_addr", r.RemoteAddr)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}{msg, reason})
}

var _ http.Handler = (*handler)(nil)
