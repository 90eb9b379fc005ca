"""Real bare git repositories: written with plain git objects, read back with the real `git` binary.

Objects are written as loose objects (zlib of ``"<type> <size>\\0<data>"``), exactly what
``git hash-object -w`` does, which keeps seeding a repository free of a dozen subprocesses; every read
(the contents API, ``git http-backend``) goes through git itself.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

FILE_MODE = "100644"
EXECUTABLE_MODE = "100755"
SYMLINK_MODE = "120000"  # a blob whose content is the link's target, as `git` stores a symlink
TREE_MODE = "40000"
AUTHOR = "Octocat <octocat@users.noreply.github.com>"


class GitError(RuntimeError):
    pass


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str  # "blob", "tree" or "commit" (a submodule)
    sha: str
    name: str


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


class BareRepository:
    def __init__(self, path: Path) -> None:
        self.path = path

    # -- creation and writes -------------------------------------------------------------------

    @classmethod
    def create(
        cls, path: Path, *, default_branch: str, files: dict[str, bytes], symlinks: dict[str, str] | None = None
    ) -> BareRepository:
        # The minimal layout `git init --bare` makes, minus sample hooks and templates (a subprocess saved
        # per repository; `git fsck` and `git http-backend` are content with it).
        for directory in ("objects/info", "objects/pack", "refs/heads", "refs/tags", "info"):
            (path / directory).mkdir(parents=True, exist_ok=True)
        (path / "HEAD").write_text(f"ref: refs/heads/{default_branch}\n")
        (path / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n")
        (path / "description").write_text("githubsim repository\n")
        repo = cls(path)
        entries = {name: (FILE_MODE, repo.write_object("blob", data)) for name, data in files.items()}
        for name, target in (symlinks or {}).items():
            entries[name] = (SYMLINK_MODE, repo.write_object("blob", target.encode()))
        repo._commit(entries, message="Initial commit", parent=None, branch=default_branch)
        return repo

    def write_object(self, kind: str, data: bytes) -> str:
        raw = f"{kind} {len(data)}\0".encode() + data
        sha = hashlib.sha1(raw).hexdigest()
        target = self.path / "objects" / sha[:2] / sha[2:]
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(zlib.compress(raw))
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        return sha

    def put_file(self, *, branch: str, path: str, content: bytes) -> str:
        entries = self.flat_tree(branch)
        entries[path] = (FILE_MODE, self.write_object("blob", content))
        return self._commit(entries, message=f"Update {path}", parent=self.resolve(branch), branch=branch)

    def put_symlink(self, *, branch: str, path: str, target: str) -> str:
        entries = self.flat_tree(branch)
        entries[path] = (SYMLINK_MODE, self.write_object("blob", target.encode()))
        return self._commit(entries, message=f"Link {path}", parent=self.resolve(branch), branch=branch)

    def create_branch(self, branch: str, *, start: str) -> str:
        """A new branch at the commit ``start`` names (a branch that exists is left where it is)."""
        ref = self.path / "refs" / "heads" / branch
        if ref.exists():
            return ref.read_text().strip()
        commit = self.resolve(start)
        if commit is None:
            raise GitError(f"no commit {start}")
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(commit + "\n")
        return commit

    def delete_file(self, *, branch: str, path: str) -> str:
        entries = self.flat_tree(branch)
        if path not in entries:
            raise FileNotFoundError(path)
        del entries[path]
        return self._commit(entries, message=f"Delete {path}", parent=self.resolve(branch), branch=branch)

    def _commit(self, entries: dict[str, tuple[str, str]], *, message: str, parent: str | None, branch: str) -> str:
        tree = self._write_tree(entries)
        stamp = f"{int(time.time())} +0000"
        lines = [f"tree {tree}"]
        if parent:
            lines.append(f"parent {parent}")
        lines += [f"author {AUTHOR} {stamp}", f"committer {AUTHOR} {stamp}", "", message, ""]
        sha = self.write_object("commit", "\n".join(lines).encode())
        ref = self.path / "refs" / "heads" / branch
        ref.parent.mkdir(parents=True, exist_ok=True)
        tmp = ref.with_name(ref.name + ".lock")
        tmp.write_text(sha + "\n")
        os.replace(tmp, ref)
        return sha

    def _write_tree(self, entries: dict[str, tuple[str, str]]) -> str:
        files: dict[str, tuple[str, str]] = {}
        subdirs: dict[str, dict[str, tuple[str, str]]] = {}
        for path, entry in entries.items():
            head, _, rest = path.partition("/")
            if rest:
                subdirs.setdefault(head, {})[rest] = entry
            else:
                files[head] = entry
        items = [(name, mode, sha) for name, (mode, sha) in files.items()]
        items += [(name, TREE_MODE, self._write_tree(sub)) for name, sub in subdirs.items()]
        # git sorts tree entries by name, comparing a tree's name as if it ended with "/".
        items.sort(key=lambda item: item[0].encode() + (b"/" if item[1] == TREE_MODE else b""))
        data = b"".join(f"{mode} {name}".encode() + b"\0" + bytes.fromhex(sha) for name, mode, sha in items)
        return self.write_object("tree", data)

    # -- reads (through git) -------------------------------------------------------------------

    def _git(self, *args: str, input_bytes: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["git", f"--git-dir={self.path}", *args],
            input=input_bytes,
            capture_output=True,
            env=git_env(),
            check=False,
        )

    def resolve(self, ref: str) -> str | None:
        """The commit sha a branch, tag or sha names, or None."""
        if not ref or ref.startswith("-") or "\0" in ref or "\n" in ref:
            return None
        done = self._git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
        if done.returncode != 0:
            return None
        return done.stdout.decode().strip()

    def flat_tree(self, ref: str) -> dict[str, tuple[str, str]]:
        commit = self.resolve(ref)
        if commit is None:
            return {}
        done = self._git("ls-tree", "-r", "-z", "--full-tree", commit)
        if done.returncode != 0:
            raise GitError(done.stderr.decode(errors="replace"))
        entries: dict[str, tuple[str, str]] = {}
        for record in done.stdout.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            mode, _kind, sha = meta.decode().split(" ")
            entries[name.decode()] = (mode, sha)
        return entries

    def read_object(self, commit: str, path: str) -> tuple[str, str, bytes] | None:
        """(type, sha, raw content) of ``path`` at ``commit`` ("" is the root tree), or None if absent."""
        spec = f"{commit}:{path}".encode() + b"\n"
        done = self._git("cat-file", "--batch", input_bytes=spec)
        header, _, rest = done.stdout.partition(b"\n")
        parts = header.decode(errors="replace").split(" ")
        if len(parts) != 3 or parts[1] == "missing":
            return None
        sha, kind, size = parts[0], parts[1], int(parts[2])
        return kind, sha, rest[:size]

    def read_entry(self, commit: str, path: str) -> tuple[str, str, str, bytes] | None:
        """(mode, type, sha, raw content) of ``path`` at ``commit``: the mode tells a symlink from a file."""
        found = self.read_object(commit, path)
        if found is None:
            return None
        kind, sha, data = found
        if not path:
            return TREE_MODE, kind, sha, data
        parent, _, name = path.rpartition("/")
        tree = self.read_object(commit, parent)
        entry = next((e for e in parse_tree(tree[2]) if e.name == name), None) if tree else None
        return (entry.mode if entry else FILE_MODE), kind, sha, data

    def object_sizes(self, shas: list[str]) -> dict[str, int]:
        if not shas:
            return {}
        done = self._git("cat-file", "--batch-check", input_bytes="".join(f"{s}\n" for s in shas).encode())
        sizes: dict[str, int] = {}
        for line in done.stdout.decode().splitlines():
            parts = line.split(" ")
            if len(parts) == 3:
                sizes[parts[0]] = int(parts[2])
        return sizes


def parse_tree(data: bytes) -> list[TreeEntry]:
    entries: list[TreeEntry] = []
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = data[pos:space].decode()
        name = data[space + 1 : nul].decode(errors="replace")
        sha = data[nul + 1 : nul + 21].hex()
        kind = "tree" if mode == TREE_MODE else "commit" if mode == "160000" else "blob"
        entries.append(TreeEntry(mode=mode, kind=kind, sha=sha, name=name))
        pos = nul + 21
    return entries


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()
