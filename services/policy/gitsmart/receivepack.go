package gitsmart

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// The kinds of a ref update.
const (
	// KindCreate creates a ref: the old object id is all zeros.
	KindCreate = "create"
	// KindDelete deletes a ref: the new object id is all zeros.
	KindDelete = "delete"
	// KindUpdate moves an existing ref to another object.
	KindUpdate = "update"
)

// RefUpdate is one command of a push: set Ref from Old to New.
type RefUpdate struct {
	// Ref is the full name of the ref: "refs/heads/main".
	Ref string
	// Old is the object id the client believes the ref has, 40 (SHA-1) or
	// 64 (SHA-256) lowercase hex digits; all zeros for a create.
	Old string
	// New is the object id the ref is set to; all zeros for a delete.
	New string
	// Kind is KindCreate, KindDelete or KindUpdate. A command whose old
	// and new ids are both zero is a delete, as git receive-pack sees it.
	Kind string
	// Branch is the branch name when Ref is under refs/heads/: "main".
	Branch string
	// Tag is the tag name when Ref is under refs/tags/: "v1.2.0".
	Tag string
}

// Push is what a git-receive-pack request asks for.
//
// Airlock reports each ref update as a create, an update or a delete. It
// cannot tell a force push (an update whose new commit does not descend
// from the old one) from a fast-forward: that needs the object graph, which
// is in the repository and, for the new objects, in the packfile that
// follows the commands. A later step may inspect the packfile; a rule that
// must forbid force pushes should rely on branch protection upstream.
type Push struct {
	// Updates are the ref updates, in the order the client sent them.
	Updates []RefUpdate
	// Capabilities are the capabilities the client asked for, from the
	// first command: "report-status-v2", "side-band-64k",
	// "object-format=sha1", "agent=git/2.39.5".
	Capabilities []string
	// PushOptions are the strings given with "git push -o", sent when the
	// client asks for the push-options capability.
	PushOptions []string
	// Packfile reports whether a packfile follows the commands. git sends
	// none when every update is a delete, and an empty one when a new ref
	// points at objects the server already has.
	Packfile bool
	// Truncated reports that the body ended inside the commands, the push
	// options or the packfile signature: Updates are those read before the
	// cut, more may have followed, and Packfile is false.
	Truncated bool
}

// signaturePrefixes start the signature of a push certificate, as git's
// gpg-interface.c recognises them (OpenPGP, X.509 and SSH).
var signaturePrefixes = []string{
	"-----BEGIN PGP SIGNATURE-----",
	"-----BEGIN PGP MESSAGE-----",
	"-----BEGIN SIGNED MESSAGE-----",
	"-----BEGIN SSH SIGNATURE-----",
}

// ParseReceivePack parses the start of a git-receive-pack request body
// (protocol v0/v1, which git uses for every push over HTTP):
//
//	*shallow (command-list | push-cert) [push-options] [packfile]
//
// as described in Documentation/gitprotocol-pack.txt. body is the decoded
// request body (without Content-Encoding; git does not compress push
// requests) and may be a prefix of it: when it ends before the packfile,
// ParseReceivePack returns what it read with Truncated set and no error.
// A prefix that ends exactly after the commands' flush-pkt looks like a
// whole delete-only push; the caller knows from the body size whether it
// cut the body.
//
// Parsing is strict, so that the policy and git never read different
// commands: anything git would reject, and a few things git tolerates but
// never sends (capabilities after the first command, shallow lines after
// it, commands after a push certificate, NUL bytes in a certificate), is an
// error, and the caller should deny the request. A body that is only a
// flush-pkt ("0000", the probe git sends before a large push) is a push of
// nothing.
func ParseReceivePack(body []byte) (Push, error) {
	p := &pushParser{r: pktReader{buf: body}}
	err := p.parse()
	if errors.Is(err, errShort) {
		p.push.Truncated = true
		return p.push, nil
	}
	if err != nil {
		return Push{}, fmt.Errorf("parsing receive-pack request: %w", err)
	}
	return p.push, nil
}

type pushParser struct {
	r    pktReader
	push Push
	// hexLen is the length of an object id, 40 or 64, once known.
	hexLen int
}

func (p *pushParser) parse() error {
	if err := p.commands(); err != nil {
		return err
	}
	if p.hasCapability("push-options") {
		if err := p.options(); err != nil {
			return err
		}
	}
	rest := p.r.rest()
	switch {
	case len(rest) == 0:
	case bytes.HasPrefix(rest, []byte("PACK")):
		p.push.Packfile = true
	case bytes.HasPrefix([]byte("PACK"), rest):
		return errShort
	default:
		return fmt.Errorf("offset %d: data after the commands is not a packfile", p.r.off)
	}
	return nil
}

// commands reads shallow lines and then either a command list or a push
// certificate, up to and including the flush-pkt that ends them.
func (p *pushParser) commands() error {
	first := true
	for {
		off, line, flush, err := p.dataLine("the command list")
		if err != nil || flush {
			return err
		}

		if oid, ok := bytes.CutPrefix(line, []byte("shallow ")); ok {
			if !first {
				return fmt.Errorf("offset %d: shallow line after a command", off)
			}
			if _, err := p.objectID(oid); err != nil {
				return fmt.Errorf("offset %d: shallow line: %w", off, err)
			}
			continue
		}

		cmd, caps, hasCaps := bytes.Cut(line, []byte{0})
		if hasCaps {
			if !first {
				return fmt.Errorf("offset %d: capabilities after the first command", off)
			}
			if err := p.capabilities(caps); err != nil {
				return fmt.Errorf("offset %d: %w", off, err)
			}
		}
		if first && string(cmd) == "push-cert" {
			return p.certificate()
		}
		first = false
		if err := p.command(cmd); err != nil {
			return fmt.Errorf("offset %d: %w", off, err)
		}
	}
}

// capabilities records the capability list of the first command and checks
// the object format it names.
func (p *pushParser) capabilities(list []byte) error {
	for _, c := range strings.Fields(string(list)) {
		p.push.Capabilities = append(p.push.Capabilities, c)
		format, ok := strings.CutPrefix(c, "object-format=")
		if !ok {
			continue
		}
		n := 0
		switch format {
		case "sha1":
			n = 40
		case "sha256":
			n = 64
		default:
			return errors.New("unknown object format")
		}
		if p.hexLen != 0 && p.hexLen != n {
			return fmt.Errorf("object format %s does not match the shallow lines", format)
		}
		p.hexLen = n
	}
	return nil
}

func (p *pushParser) hasCapability(name string) bool {
	for _, c := range p.push.Capabilities {
		if c == name {
			return true
		}
	}
	return false
}

// certificate reads a push certificate after its first line, up to and
// including the flush-pkt that must follow "push-cert-end", and records
// the commands it carries. Like git receive-pack, it keeps the newlines of
// the certificate lines, finds the commands between the first blank line
// and the last line that starts a signature, and ends the certificate early
// at a flush-pkt.
func (p *pushParser) certificate() error {
	start := p.r.off
	var cert []byte
	for {
		off := p.r.off
		kind, line, err := p.r.next()
		if errors.Is(err, errShort) {
			// Keep the commands that arrived whole.
			if cerr := p.certificateCommands(cert, start, true); cerr != nil {
				return cerr
			}
			return err
		}
		if err != nil {
			return err
		}
		switch kind {
		case pktFlush:
			// git ends the certificate and the command list here.
			return p.certificateCommands(cert, start, false)
		case pktData:
		default:
			return fmt.Errorf("offset %d: unexpected %s in a push certificate", off, kind)
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return fmt.Errorf("offset %d: NUL in a push certificate", off)
		}
		if string(line) == "push-cert-end\n" {
			break
		}
		cert = append(cert, line...)
	}
	if err := p.certificateCommands(cert, start, false); err != nil {
		return err
	}
	off := p.r.off
	kind, _, err := p.r.next()
	if err != nil {
		return err
	}
	if kind != pktFlush {
		return fmt.Errorf("offset %d: %s after a push certificate, want a flush-pkt", off, kind)
	}
	return nil
}

// certificateCommands records the commands of a certificate: the lines
// between the first blank line and the last line that starts a signature,
// as git's queue_commands_from_cert finds them. When partial, cert is a
// prefix of the certificate and only whole lines before any signature are
// read.
func (p *pushParser) certificateCommands(cert []byte, off int, partial bool) error {
	i := bytes.Index(cert, []byte("\n\n"))
	if i < 0 {
		if partial {
			return nil
		}
		return fmt.Errorf("offset %d: push certificate without a blank line before the commands", off)
	}
	begin, end := i+2, len(cert)
	if partial {
		end = bytes.LastIndexByte(cert, '\n') + 1
		if j := signatureStart(cert[begin:end], false); j >= 0 {
			end = begin + j
		}
	} else if j := signatureStart(cert, true); j >= 0 {
		end = j
	}
	for begin < end {
		line, _, _ := bytes.Cut(cert[begin:end], []byte("\n"))
		if err := p.command(line); err != nil {
			return fmt.Errorf("offset %d: push certificate: %w", off, err)
		}
		begin += len(line) + 1
	}
	return nil
}

// signatureStart returns the offset of the first (or last) line of text
// that starts a signature, or -1.
func signatureStart(text []byte, last bool) int {
	found := -1
	for off := 0; off < len(text); {
		line := text[off:]
		for _, prefix := range signaturePrefixes {
			if bytes.HasPrefix(line, []byte(prefix)) {
				if !last {
					return off
				}
				found = off
			}
		}
		i := bytes.IndexByte(line, '\n')
		if i < 0 {
			break
		}
		off += i + 1
	}
	return found
}

// dataLine reads the next line of a section made of data pkt-lines ended
// by a flush-pkt: the line without its newline, or flush at the end. off is
// the line's offset, for errors.
func (p *pushParser) dataLine(section string) (off int, line []byte, flush bool, err error) {
	off = p.r.off
	kind, line, err := p.r.next()
	switch {
	case err != nil:
		return off, nil, false, err
	case kind == pktFlush:
		return off, nil, true, nil
	case kind != pktData:
		return off, nil, false, fmt.Errorf("offset %d: unexpected %s in %s", off, kind, section)
	}
	return off, bytes.TrimSuffix(line, []byte("\n")), false, nil
}

// options reads the push options that follow the command list, up to and
// including their flush-pkt.
func (p *pushParser) options() error {
	for {
		off, line, flush, err := p.dataLine("the push options")
		if err != nil || flush {
			return err
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return fmt.Errorf("offset %d: NUL in a push option", off)
		}
		p.push.PushOptions = append(p.push.PushOptions, string(line))
	}
}

// command parses "<old-id> SP <new-id> SP <ref>" and records the update.
func (p *pushParser) command(cmd []byte) error {
	parts := bytes.SplitN(cmd, []byte(" "), 3)
	if len(parts) != 3 {
		return errors.New("command is not <old-id> <new-id> <ref>")
	}
	old, err := p.objectID(parts[0])
	if err != nil {
		return fmt.Errorf("old object id: %w", err)
	}
	nu, err := p.objectID(parts[1])
	if err != nil {
		return fmt.Errorf("new object id: %w", err)
	}
	ref := string(parts[2])
	if !validRef(ref) {
		return errors.New("invalid ref name")
	}
	u := RefUpdate{Ref: ref, Old: old, New: nu, Kind: KindUpdate}
	switch {
	case isZero(nu):
		u.Kind = KindDelete
	case isZero(old):
		u.Kind = KindCreate
	}
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		u.Branch = b
	} else if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		u.Tag = t
	}
	p.push.Updates = append(p.push.Updates, u)
	return nil
}

// objectID checks an object id: 40 or 64 lowercase hex digits, the same
// length as every other id in the request. git accepts uppercase digits but
// never sends them; rejecting them keeps ids comparable as strings.
func (p *pushParser) objectID(b []byte) (string, error) {
	if len(b) != 40 && len(b) != 64 {
		return "", fmt.Errorf("length %d, want 40 (SHA-1) or 64 (SHA-256)", len(b))
	}
	if p.hexLen != 0 && len(b) != p.hexLen {
		return "", fmt.Errorf("length %d, want %d as in the rest of the request", len(b), p.hexLen)
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", errors.New("not lowercase hex")
		}
	}
	p.hexLen = len(b)
	return string(b), nil
}

func isZero(id string) bool {
	return strings.Trim(id, "0") == ""
}

// validRef reports whether git receive-pack accepts name as the ref of a
// command: it starts with "refs/" and the rest passes
// check_refname_format with no flags (refs.c), so it has at least two
// components.
func validRef(name string) bool {
	rest, ok := strings.CutPrefix(name, "refs/")
	if !ok || rest == "@" || strings.HasSuffix(rest, ".") {
		return false
	}
	components := strings.Split(rest, "/")
	if len(components) < 2 {
		return false
	}
	for _, c := range components {
		if c == "" || c[0] == '.' || strings.HasSuffix(c, ".lock") {
			return false
		}
		if strings.Contains(c, "..") || strings.Contains(c, "@{") {
			return false
		}
		for i := 0; i < len(c); i++ {
			switch ch := c[i]; {
			case ch < 0x20 || ch == 0x7f:
				return false
			case strings.IndexByte(" ~^:?*[\\", ch) >= 0:
				return false
			}
		}
	}
	return true
}
