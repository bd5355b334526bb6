"""Every relative link in the project's Markdown resolves: `python3 scripts/check-links.py`.

Tracked *.md files: each relative link's target exists (relative to the file) and its `#anchor`
is a heading there (GitHub's slugs, `-1`, `-2`… for repeats) or an `<a id|name>`. Links with a
scheme (http, mailto…) and links in fenced or inline code are skipped. Tracked sources (*.rs,
*.toml, *.sh, *.py, *.yaml): mentions of README, SECURITY, CONTRIBUTING or CHANGELOG `.md`, or of
`docs/<path>.md`, with their `#anchor`, are checked from the repository root. Prints each broken
link as file:line; exit status 1 if there is one.
"""
import functools
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
ANCHOR_TAG = re.compile(r"""<a\s[^>]*(?:id|name)\s*=\s*["']?([^"'\s>]+)""", re.I)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
SOURCE_REF = re.compile(r"(?<![\w/.-])((?:README|SECURITY|CONTRIBUTING|CHANGELOG)\.md|docs/[\w/.-]+?\.md)(#[\w-]+)?")


def tracked(*patterns):
    out = subprocess.run(["git", "ls-files", "-z", *patterns], capture_output=True, text=True, cwd=ROOT)
    return [ROOT / name for name in out.stdout.split("\0") if name]


def lines_outside_fences(path):
    fence = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        marker = FENCE.match(line)
        if marker and not fence:
            fence = marker.group(1)
        elif marker and marker.group(1).startswith(fence) and not line.strip(" `~"):
            fence = ""
        elif not fence:
            yield number, line


def slug(heading):
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


@functools.cache
def anchors(path):
    seen, found = {}, set()
    for _, line in lines_outside_fences(path):
        found.update(a.lower() for a in ANCHOR_TAG.findall(line))
        if heading := HEADING.match(line):
            base = slug(heading.group(2))
            found.add(f"{base}-{seen[base]}" if base in seen else base)
            seen[base] = seen.get(base, 0) + 1
    return found


def problem(target, base):
    path_part, _, fragment = target.partition("#")
    path = (base / unquote(path_part)).resolve() if path_part else base
    if path != ROOT and ROOT not in path.parents:
        return "outside the repository"
    if not path.exists():
        return "no such file"
    if fragment and path.suffix == ".md" and unquote(fragment).lower() not in anchors(path):
        return f"no anchor #{fragment} in {path.relative_to(ROOT)}"


broken = []
for md in tracked("*.md"):
    for number, line in lines_outside_fences(md):
        text = CODE_SPAN.sub("", line)
        for target in LINK.findall(text) + REF_DEF.findall(text):
            if not target or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                continue
            if why := problem(target, md if target.startswith("#") else md.parent):
                broken.append(f"{md.relative_to(ROOT)}:{number}: ({target}) {why}")
for source in tracked("*.rs", "*.toml", "*.sh", "*.py", "*.yaml"):
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        for path_part, fragment in SOURCE_REF.findall(line):
            if why := problem(path_part + fragment, ROOT):
                broken.append(f"{source.relative_to(ROOT)}:{number}: ({path_part}{fragment}) {why}")
print("\n".join(broken) or "check-links: every link resolves")
sys.exit(1 if broken else 0)
