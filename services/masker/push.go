package masker

import (
	"fmt"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/maskstream"
	"github.com/airlockhq/airlock/services/masker/detect"
	"github.com/airlockhq/airlock/services/masker/pack"
)

// RuleUnscanned is the finding for a push whose packfile could not be read
// whole (larger than the ingress's inspect limit, or not a pack git's
// format allows): policy should refuse what it cannot see.
const RuleUnscanned = "airlock-push-unscanned"

// scanPush reads the packfile of a git push and scans every file it adds.
// What it answers for the bus is the commands and the pack's 12-byte
// header, not the pack's objects: they are compressed, so a secret in one
// could not be masked in place, and policy reads only the ref updates (and
// that a pack follows). The ingress forwards the agent's own bytes.
func (m *Masker) scanPush(p maskstream.Piece) (maskstream.Masked, error) {
	var found []event.Finding
	err := pack.Scan(p.Data, pack.Limits{}, func(b pack.Blob) error {
		where := "push:" + b.Path
		switch {
		case b.Path != "":
		case b.Partial:
			// A change to a file the server has: its new id and path
			// cannot be known from a thin pack, its old id can.
			where = "push:change to blob " + b.Base
		default:
			where = "push:blob " + b.Hash
		}
		for _, f := range m.d.Find(b.Data) {
			found = append(found, event.Finding{
				Rule: f.RuleID, Location: where,
				Fingerprint: detect.Fingerprint(m.salt, b.Data[f.Start:f.End]),
			})
		}
		return nil
	})
	switch {
	case p.Truncated || !p.Final:
		found = append(found, event.Finding{Rule: RuleUnscanned,
			Location: fmt.Sprintf("push: the pack is larger than the %d bytes inspected", p.Offset+int64(len(p.Data)))})
	case err != nil:
		found = append(found, event.Finding{Rule: RuleUnscanned, Location: "push: " + err.Error()})
	}
	return maskstream.Masked{Data: journaled(p), UpTo: len(p.Data), Next: len(p.Data), Findings: found}, nil
}

// packHeader is "PACK", the version and the object count.
const packHeader = 12

// journaled is what the bus carries of a push piece: the commands and the
// pack header from the first piece, nothing of the later ones (the pack's
// objects). A body whose commands cannot be read is carried as it is: the
// finding airlock-push-unscanned has it refused, and policy's own strict
// parser must see what follows the commands to refuse it too.
func journaled(p maskstream.Piece) []byte {
	if p.Offset > 0 {
		return nil
	}
	start, ok, err := pack.Start(p.Data)
	switch {
	case err != nil:
		return p.Data[p.Keep:]
	case !ok:
		return p.Data[p.Keep:min(start, len(p.Data))]
	}
	return p.Data[p.Keep:min(start+packHeader, len(p.Data))]
}
