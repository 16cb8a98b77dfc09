"""Every reference to a Markdown document resolves inside the repository (issue 12).

A reference is a path ending in `.md`, with an optional `#anchor`, in a docstring or comment of the
product's Python files, or in its Markdown documents (the README, docs/, the packages' READMEs);
a Markdown link to `#anchor` alone names a heading of its own file. It resolves when the file
exists, next to the citing file or from the repository's root, and the anchor is one of its
headings, slugged as GitHub does (lowercase, punctuation dropped, spaces to hyphens, a repeated
heading numbered -1, -2...). Addresses on the web are not checked.
"""

import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Not the product: tests, hidden folders (virtual environments, caches), build outputs.
SKIPPED = {"tests", "venv", "build", "dist", "node_modules", "__pycache__"}

URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
REFERENCE = re.compile(r"(?<![\w/.~-])((?:\.\./|\./)*(?:[\w.-]+/)*[\w.-]+\.md)(?:#([\w-]+))?")
LOCAL_ANCHOR = re.compile(r"\]\(#([\w-]+)\)")
LINK_TEXT = re.compile(r"!?\[[^\]]*\]\(")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _product(suffix: str) -> list[Path]:
    return sorted(
        path
        for path in ROOT.rglob(f"*{suffix}")
        if not any(
            part in SKIPPED or part.startswith(".") or part.endswith(".egg-info")
            for part in path.relative_to(ROOT).parts
        )
    )


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts as its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """The anchors of a Markdown file's headings (those inside fenced code blocks are not)."""
    found: dict[str, int] = {}
    out = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = found.get(base, 0)
            found[base] = count + 1
            out.add(base if count == 0 else f"{base}-{count}")
    return frozenset(out)


def references(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, file, anchor) of every Markdown reference in a file; file "" for a local anchor."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = URL.sub(" ", line)
        if path.suffix == ".md":
            found += [(number, "", anchor) for anchor in LOCAL_ANCHOR.findall(line)]
            line = LINK_TEXT.sub("(", line)  # a link's text names nothing; its target does
        for match in REFERENCE.finditer(line):
            found.append((number, match.group(1), match.group(2)))
    return found


def broken(path: Path) -> list[str]:
    """What is wrong with each reference of `path` that does not resolve."""
    out = []
    for number, target, anchor in references(path):
        where = f"{path.relative_to(ROOT)}:{number}: {target}{'#' + anchor if anchor else ''}"
        if target == "":
            candidates = [path]
        else:
            candidates = [
                c.resolve() for c in (path.parent / target, ROOT / target) if c.resolve().is_file()
            ]
        if not candidates:
            out.append(f"{where}: no such file in the repository")
        elif anchor and not any(anchor in anchors(c) for c in candidates):
            out.append(f"{where}: no heading with this anchor")
    return out


def test_every_reference_to_a_document_resolves():
    cited = _product(".py") + _product(".md")
    assert ROOT / "README.md" in cited
    problems = [problem for path in cited for problem in broken(path)]
    assert not problems, "references to documents that do not resolve:\n" + "\n".join(problems)


def test_the_design_documents_exist_and_the_code_cites_them():
    for name in ("architecture.md", "domain.md"):
        assert anchors(ROOT / "docs" / name), f"docs/{name} has no headings"
    cited = {
        target
        for path in _product(".py")
        for _, target, _ in references(path)
        if target.startswith("docs/")
    }
    assert {"docs/architecture.md", "docs/domain.md"} <= cited


def test_anchors_are_slugged_as_github_does():
    assert slug("Who sees what: the consent policy") == "who-sees-what-the-consent-policy"
    assert slug("How an ITI-65 push flows") == "how-an-iti-65-push-flows"
    assert slug("Documents: PDSm and MHD") == "documents-pdsm-and-mhd"
    assert slug("The `fhir-server` command, [linked](x.md)") == "the-fhir-server-command-linked"
    assert slug("Accès d'urgence") == "accès-durgence"
