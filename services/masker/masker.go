// Package masker is Airlock's masker service: it answers the ingress's
// pieces of bodies (pkg/maskstream) with the secrets in them masked, and
// reports what it found. Responses are masked before the agent sees them;
// requests are masked for the bus and their findings go to policy, which
// may refuse a secret on its way out; a git push's packfile is read and
// every file it adds is scanned (push protection).
package masker

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/maskstream"
	"github.com/airlockhq/airlock/services/masker/detect"
	"github.com/airlockhq/airlock/services/masker/document"
)

// Masker masks pieces. It is safe for concurrent use.
type Masker struct {
	d           *detect.Detector
	doc         *document.Masker
	salt        []byte
	placeholder func(rule string) string
	log         *slog.Logger
	metrics     *Metrics
}

// New builds the masker from the configuration: the gitleaks catalogue
// plus the extra rules file, the JSON field rules, the placeholder and the
// fingerprint salt. m may be nil (unregistered metrics).
func New(cfg *config.Config, log *slog.Logger, m *Metrics) (*Masker, error) {
	mc := cfg.Masking
	var extra string
	if mc.Rules != "" {
		b, err := os.ReadFile(cfg.Path(mc.Rules))
		if err != nil {
			return nil, fmt.Errorf("reading masking.rules: %w", err)
		}
		extra = string(b)
	}
	d, err := detect.New(detect.Options{Extra: extra})
	if err != nil {
		return nil, fmt.Errorf("building the detector: %w", err)
	}
	tmpl := mc.Placeholder
	if tmpl == "" {
		tmpl = config.DefaultMaskPlaceholder
	}
	placeholder := func(rule string) string { return strings.ReplaceAll(tmpl, "{rule}", rule) }
	fields := mc.Fields
	if fields == nil {
		fields = config.DefaultMaskFields
	}
	doc, err := document.New(fields, placeholder)
	if err != nil {
		return nil, fmt.Errorf("masking.fields: %w", err)
	}
	salt := []byte(mc.Salt)
	if len(salt) == 0 {
		salt = make([]byte, 32)
		_, _ = rand.Read(salt)
		log.Info("masking.salt is not set: fingerprints of findings are comparable within this process only")
	}
	if m == nil {
		if m, err = NewMetrics(nil); err != nil {
			return nil, err
		}
	}
	return &Masker{d: d, doc: doc, salt: salt, placeholder: placeholder, log: log, metrics: m}, nil
}

// Handle masks one piece: the maskstream.Handler.
func (m *Masker) Handle(p maskstream.Piece) (maskstream.Masked, error) {
	start := time.Now()
	ans, err := m.handle(p)
	kind := "ok"
	if err != nil {
		kind = "error"
	}
	m.metrics.pieces.WithLabelValues(p.Direction, kind).Inc()
	m.metrics.bytes.WithLabelValues(p.Direction).Add(float64(len(p.Data) - p.Keep))
	m.metrics.duration.Observe(time.Since(start).Seconds())
	for _, f := range ans.Findings {
		m.metrics.findings.WithLabelValues(p.Direction, f.Rule).Inc()
	}
	return ans, err
}

func (m *Masker) handle(p maskstream.Piece) (maskstream.Masked, error) {
	mt, _, _ := mime.ParseMediaType(p.ContentType)
	if p.Direction == maskstream.Request && mt == "application/x-git-receive-pack-request" {
		return m.scanPush(p)
	}
	if p.Whole() && maskstream.MaybeDocument(mt, p.Data) && m.doc.Applies(p.Data) {
		masked, found, err := m.doc.Mask(p.Data, m.maskText)
		if err == nil {
			var fs []event.Finding
			for _, f := range found {
				fs = append(fs, event.Finding{Rule: f.Rule, Location: f.Location, Fingerprint: detect.Fingerprint(m.salt, f.Value)})
			}
			// Then the text pass over what the document pass left.
			c := m.d.MaskChunk(masked, 0, true, m.placeholder)
			return maskstream.Masked{Data: c.Masked, UpTo: len(p.Data), Next: len(p.Data),
				Findings: append(fs, m.textFindings(masked, 0, c.Findings)...)}, nil
		}
		if !errors.Is(err, document.ErrNotJSON) {
			return maskstream.Masked{}, err
		}
		// Not JSON after all: masked as text below.
	}
	c := m.d.MaskChunk(p.Data, p.Keep, p.Final, m.placeholder)
	upTo, next := c.UpTo, c.Next
	if p.Final {
		upTo, next = len(p.Data), len(p.Data)
	}
	return maskstream.Masked{Data: c.Masked, UpTo: upTo, Next: next,
		Findings: m.textFindings(p.Data, p.Offset, c.Findings)}, nil
}

// maskText is the document masker's text pass (base64 content).
func (m *Masker) maskText(text []byte) ([]byte, []document.TextFinding) {
	masked, found := m.d.Mask(text, m.placeholder)
	out := make([]document.TextFinding, len(found))
	for i, f := range found {
		out[i] = document.TextFinding{Rule: f.RuleID, Start: f.Start, End: f.End}
	}
	return masked, out
}

// textFindings names findings in data, which starts at offset in the body.
func (m *Masker) textFindings(data []byte, offset int64, found []detect.Finding) []event.Finding {
	out := make([]event.Finding, 0, len(found))
	for _, f := range found {
		out = append(out, event.Finding{
			Rule:        f.RuleID,
			Location:    "body@" + strconv.FormatInt(offset+int64(f.Start), 10),
			Fingerprint: detect.Fingerprint(m.salt, data[f.Start:f.End]),
		})
	}
	return out
}

// Rules are the detector's rule ids.
func (m *Masker) Rules() []string { return m.d.Rules() }
