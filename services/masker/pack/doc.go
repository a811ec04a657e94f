// Package pack finds the files a git push adds, so that the gateway can
// refuse a push that carries a secret and name the file it is in.
//
// When an agent pushes over smart HTTP, the ingress holds the body of
// POST <repo>/git-receive-pack: the ref updates as pkt-lines, then push
// options when the client sends any, then a packfile with the objects the
// server does not have yet. Scan reads that body and calls a function for
// each blob in the packfile, with its content and, where the pushed trees
// tell, its path. A body without a packfile (a push that only deletes refs,
// or the "0000" probe git sends before a large push) yields nothing.
//
// # Deltas and thin packs
//
// A packfile stores many objects as deltas: instructions that copy ranges
// of a base object and insert new bytes. Scan resolves every delta whose
// base is in the pack, so such a blob arrives whole. But git push sends a
// thin pack: a delta's base may be an object the server already has, which
// the pack does not carry and the gateway, holding no repository, cannot
// read. For such a delta Scan yields a Blob with Partial set and, as Data,
// the bytes the delta inserts. Text added to a file is inserted, so a
// secret added to a file the server already has is still seen. The limit:
// what a thin delta copies from its base is not seen, so a secret that the
// delta assembles from inserted bytes and copied ones (a key whose first
// half was already in the file, say) is not seen whole, and neither is one
// that a copy interrupts. Inserted runs that a copy separates are joined
// with a newline, so that a detector does not match across the gap.
//
// A thin delta has the type of its base, so Scan cannot tell a blob delta
// from a tree or commit delta: it yields them all as Partial blobs, since
// scanning a few extra bytes is harmless and skipping them could hide a
// file. The id of a delta's result is a hash of the whole result, so a
// Partial blob has no Hash; Base names the object it is a delta of, which
// is the server's version of the file.
//
// # Paths
//
// Paths come from the commits in the pack: each commit's root tree, then
// its subtrees, as far as those trees are in the pack. A tree can be a thin
// delta too: git sends a changed large directory as a delta against the
// server's version of it. Its names are then unknown, except those of
// entries it inserts whole (a file added to the directory): Scan finds
// those in the inserted bytes and, not knowing the directories above them,
// gives them a path that starts with ".../". A tree in the pack that no
// pushed tree leads to (a changed small directory under a thin one) gets
// the same prefix. A blob whose name is nowhere in the pack, as a file the
// server already had and the push changes through a thin delta, has Path
// "".
//
// # Bounds
//
// A packfile is compressed, so a small body can inflate to gigabytes, and
// a delta a few bytes long can declare a result of any size. Scan checks
// every size against Limits before it inflates or builds anything and
// fails with ErrTooLarge when the pack asks for more. It reads the whole
// pack and checks it (framing, zlib streams, object sizes, delta
// instructions, trees, the trailing checksum) before it calls visit, so a
// malformed body yields an error and no blob.
package pack
