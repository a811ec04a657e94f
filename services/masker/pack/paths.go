package pack

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
)

// maxPath bounds the paths Scan builds (PATH_MAX on Linux). Without it a
// pack of nested trees with long names would make the paths of their
// entries grow quadratically; the blobs below stay nameless.
const maxPath = 4096

// unknownDir stands for the directories above a tree whose place in the
// pushed commit the pack does not tell.
const unknownDir = "..."

// entry is a tree entry.
type entry struct {
	name string
	hash plumbing.Hash
	dir  bool
}

// paths maps the blobs the pushed trees name to a path: first from the
// commits' root trees, then from the entries thin tree deltas insert whole,
// then from the trees nothing in the pack leads to (see the package
// documentation). A path found earlier wins.
func (r *reader) paths() (map[plumbing.Hash]string, error) {
	trees := make(map[plumbing.Hash][]entry)
	var treeOrder []plumbing.Hash
	inPack := make(map[plumbing.Hash]plumbing.ObjectType)
	for _, o := range r.objects {
		if !o.resolved {
			continue
		}
		inPack[o.hash] = o.typ
		if o.typ != plumbing.TreeObject {
			continue
		}
		entries, err := parseTree(o.data)
		if err != nil {
			return nil, fmt.Errorf("tree %s: %w", o.hash, err)
		}
		if _, dup := trees[o.hash]; !dup {
			trees[o.hash] = entries
			treeOrder = append(treeOrder, o.hash)
		}
	}
	referenced := make(map[plumbing.Hash]bool)
	for _, entries := range trees {
		for _, e := range entries {
			if e.dir {
				referenced[e.hash] = true
			}
		}
	}

	paths := make(map[plumbing.Hash]string)
	visited := make(map[plumbing.Hash]bool)
	walk := func(root plumbing.Hash, dir string) {
		if _, ok := trees[root]; !ok || visited[root] {
			return
		}
		visited[root] = true
		type item struct {
			hash plumbing.Hash
			dir  string
		}
		stack := []item{{root, dir}}
		for len(stack) > 0 {
			t := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, e := range trees[t.hash] {
				p := e.name
				if t.dir != "" {
					p = t.dir + "/" + e.name
				}
				switch {
				case len(p) > maxPath:
				case e.dir:
					if _, ok := trees[e.hash]; ok && !visited[e.hash] {
						visited[e.hash] = true
						stack = append(stack, item{e.hash, p})
					}
				default:
					if _, ok := paths[e.hash]; !ok {
						paths[e.hash] = p
					}
				}
			}
		}
	}

	for _, o := range r.objects {
		if o.resolved && o.typ == plumbing.CommitObject {
			tree, err := commitTree(o.data)
			if err != nil {
				return nil, fmt.Errorf("commit %s: %w", o.hash, err)
			}
			walk(tree, "")
		}
	}
	for _, o := range r.objects {
		for _, run := range o.runs {
			thinEntries(run, inPack, func(e entry) {
				p := unknownDir + "/" + e.name
				if e.dir {
					walk(e.hash, p)
				} else if _, ok := paths[e.hash]; !ok {
					paths[e.hash] = p
				}
			})
		}
	}
	for _, h := range treeOrder {
		if !referenced[h] {
			walk(h, unknownDir)
		}
	}
	return paths, nil
}

// commitTree returns the root tree of a commit, named on its first line.
func commitTree(data []byte) (plumbing.Hash, error) {
	var h plumbing.Hash
	line, _, ok := bytes.Cut(data, []byte("\n"))
	hexID, found := bytes.CutPrefix(line, []byte("tree "))
	if !ok || !found || len(hexID) != 2*len(h) {
		return h, errors.New("no tree line")
	}
	if _, err := hex.Decode(h[:], hexID); err != nil {
		return h, fmt.Errorf("tree line: %w", err)
	}
	return h, nil
}

// parseTree reads a tree's entries: "<octal mode> <name>\0<20-byte id>"
// each. It refuses what git never writes and a path cannot hold: an empty
// name, or one with a slash. Gitlinks (submodule commits) are left out:
// the pack does not carry them.
func parseTree(data []byte) ([]entry, error) {
	var entries []entry
	for len(data) > 0 {
		modeText, rest, ok := bytes.Cut(data, []byte(" "))
		if !ok {
			return nil, errors.New("entry without a mode")
		}
		mode, err := strconv.ParseUint(string(modeText), 8, 32)
		if err != nil {
			return nil, fmt.Errorf("entry mode %q: %w", modeText, err)
		}
		name, rest, ok := bytes.Cut(rest, []byte{0})
		if !ok {
			return nil, errors.New("entry name without its end")
		}
		if len(name) == 0 || bytes.IndexByte(name, '/') >= 0 {
			return nil, fmt.Errorf("entry name %q", name)
		}
		var h plumbing.Hash
		if len(rest) < len(h) {
			return nil, errors.New("entry id truncated")
		}
		copy(h[:], rest)
		data = rest[len(h):]
		switch mode & 0o170000 {
		case 0o160000:
		case 0o040000:
			entries = append(entries, entry{name: string(name), hash: h, dir: true})
		default:
			entries = append(entries, entry{name: string(name), hash: h})
		}
	}
	return entries, nil
}

// treeModes are the modes git writes in trees, as text, but gitlinks.
var treeModes = []string{"100644", "100755", "120000", "40000"}

// thinEntries finds, in bytes a thin tree delta inserts, the whole
// entries that name an object of this pack, and calls fn for each. An
// insert may start anywhere in an entry and hold binary ids, so the search
// goes by the ids: a NUL followed by the 20 bytes of an id in inPack,
// preceded by a name (no NUL, no slash) and a mode git writes. When a
// name holds a space followed by what looks like a mode, the entry is
// taken to start at the later one.
func thinEntries(run []byte, inPack map[plumbing.Hash]plumbing.ObjectType, fn func(entry)) {
	var h plumbing.Hash
	for i := 0; i+len(h) < len(run); i++ {
		if run[i] != 0 {
			continue
		}
		copy(h[:], run[i+1:])
		typ, ok := inPack[h]
		if !ok || (typ != plumbing.TreeObject && typ != plumbing.BlobObject) {
			continue
		}
		head := run[:i]
	name:
		for j := len(head) - 1; j >= 0 && head[j] != 0 && head[j] != '/'; j-- {
			if head[j] != ' ' || j == len(head)-1 {
				continue
			}
			for _, m := range treeModes {
				if bytes.HasSuffix(head[:j], []byte(m)) {
					if (m == "40000") == (typ == plumbing.TreeObject) {
						fn(entry{name: string(head[j+1:]), hash: h, dir: typ == plumbing.TreeObject})
					}
					break name
				}
			}
		}
	}
}
