package approver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/services/approver/slackapp"
)

// InteractionsPath is where the Slack app's Request URL points.
const InteractionsPath = "/slack/interactions"

// Running is an approver at work: consuming verdicts, carrying out
// operators' commands, and taking Slack interactions.
type Running struct {
	Service *Service
	// InteractionsURL is the HTTP interactivity endpoint, when served.
	InteractionsURL string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	srv    *http.Server
}

// Start starts the approver on js, recording its metrics in m (nil: none), with Slack when the configuration has
// a bot token: HTTP interactivity when it has a signing secret, Socket
// Mode when it has an app token.
func Start(ctx context.Context, cfg *config.Config, js jetstream.JetStream, log *slog.Logger, m *Metrics) (*Running, error) {
	sc := cfg.Approvals.Slack
	var notifier Notifier
	var resolve Resolver
	var api *slack.Client
	if sc.Enabled() {
		opts := []slack.Option{}
		if sc.APIURL != "" {
			opts = append(opts, slack.OptionAPIURL(sc.APIURL))
		}
		if sc.AppToken != "" {
			opts = append(opts, slack.OptionAppLevelToken(sc.AppToken))
		}
		api = slack.New(sc.BotToken, opts...)
		notifier = slackapp.NewPoster(api, sc.Channel)
		resolve = func(ctx context.Context, emails []string) (map[string]string, error) {
			return slackapp.LookupEmails(ctx, api, emails)
		}
	} else {
		log.Info("no Slack configured: held requests are decided with `airlock approvals approve|deny`")
	}
	svc, err := New(ctx, js, cfg, notifier, resolve, log)
	if err != nil {
		return nil, err
	}
	svc.metrics = m
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Running{Service: svc, cancel: cancel}
	judge := func(ctx context.Context, c slackapp.Click) error {
		err := svc.Decide(ctx, c)
		if err != nil && !errors.Is(err, ErrRefused) {
			log.Error("deciding", "request_id", c.ApprovalID, "err", err)
			return errors.New("the decision could not be recorded: try again")
		}
		return err
	}
	if sc.Enabled() && sc.SigningSecret != "" && sc.Listen != config.ListenNone {
		ln, err := net.Listen("tcp", sc.Listen)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("serving Slack interactions: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("POST "+InteractionsPath, slackapp.NewHandler(sc.SigningSecret, api, judge, log))
		r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
		r.InteractionsURL = "http://" + ln.Addr().String() + InteractionsPath
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("Slack interactions endpoint stopped", "err", err)
			}
		}()
		log.Info("Slack interactions endpoint listening", "url", r.InteractionsURL)
	}
	if sc.Enabled() && sc.AppToken != "" {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := slackapp.RunSocketMode(rctx, api, judge, log); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("Slack Socket Mode stopped", "err", err)
			}
		}()
	}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		if err := svc.Run(rctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("approver stopped", "err", err)
		}
	}()
	go func() {
		defer r.wg.Done()
		if err := svc.WatchCommands(rctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("approver commands stopped", "err", err)
		}
	}()
	return r, nil
}

// Stop stops taking verdicts, commands and interactions, and waits.
func (r *Running) Stop() {
	r.cancel()
	if r.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.srv.Shutdown(ctx)
	}
	r.wg.Wait()
}
