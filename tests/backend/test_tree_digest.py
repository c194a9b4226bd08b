"""backend.tree_digest: the sources digests remembered in the cache by the files'
stat signature, recomputed when a file changes, and never trusted when damaged."""

from __future__ import annotations

import hashlib
import os

from cgraph.backend.identity import tree_digest


def expected(named, seed):
    h = hashlib.sha256(seed.encode())
    for name, path in named:
        data = path.read_bytes()
        h.update(b"%d\0%s\0%d\0" % (len(name), name.encode(), len(data)) + data)
    return h.hexdigest()


def test_remembered_recomputed_and_never_trusted_when_damaged(tmp_path):
    src, root = tmp_path / "src", tmp_path / "cache"
    src.mkdir()
    root.mkdir()
    files = []
    for k in range(3):
        path = src / f"m{k}.py"
        path.write_text(f"x = {k}\n")
        files.append((path.name, path))
    first = tree_digest("t", files, "seed", root)
    assert first == expected(files, "seed") == tree_digest("t", files, "seed", None)
    (memo,) = (root / "digests").glob("t-*")  # named by the files' folder
    signature = memo.read_text().split()[0]
    # the memo is what answers while the files' signature holds
    memo.write_text(f"{signature} {'0' * 64}\n")
    assert tree_digest("t", files, "seed", root) == "0" * 64
    # a changed file (new size and time) is hashed again, and remembered
    files[1][1].write_text("x = 'changed'\n")
    second = tree_digest("t", files, "seed", root)
    assert second == expected(files, "seed") != first
    assert memo.read_text().split()[1] == second
    # same size, new time: hashed again
    st = os.stat(files[2][1])
    files[2][1].write_text("x = 9\n")
    os.utime(files[2][1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert tree_digest("t", files, "seed", root) == expected(files, "seed")
    # another seed is another digest; a damaged memo is ignored and replaced
    assert tree_digest("t", files, "other", root) == expected(files, "other")
    memo.write_bytes(b"\xff\xfe garbage")
    assert tree_digest("t", files, "seed", root) == expected(files, "seed")


def test_two_checkouts_sharing_a_cache_keep_a_memo_each(tmp_path):
    """The same files in two folders (two checkouts, an install and a checkout): each
    answers from its own memo, which the other does not replace."""
    root = tmp_path / "cache"
    root.mkdir()
    checkouts, memos = [], []
    for where in ("a", "b"):
        folder = tmp_path / where
        folder.mkdir()
        (folder / "m.py").write_text(f"x = {where!r}\n")
        files = [("m.py", folder / "m.py")]
        assert tree_digest("t", files, "seed", root) == expected(files, "seed")
        (memo,) = set((root / "digests").glob("t-*")) - set(memos)
        checkouts.append(files)
        memos.append(memo)
    for memo, fake in zip(memos, ("a" * 64, "b" * 64)):  # each memo answers for its folder
        memo.write_text(f"{memo.read_text().split()[0]} {fake}\n")
    assert [tree_digest("t", files, "seed", root) for files in checkouts] == ["a" * 64, "b" * 64]
