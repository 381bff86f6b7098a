#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every documentation citation in the repository resolves inside the repository.

Scans headers, examples, benchmarks, tests, scripts, CMake files, README.md, CHANGELOG.md and
docs/ for `docs/<name>.md` and `docs/<name>.md §N[.M...]`: the file must exist and, when a section
is given, docs/<name>.md must have a heading numbered N[.M...] (or, for N.M, a numbered list item
M. at the start of a line inside section N). Also fails on any mention of the
team-internal files these docs replace (the names in `forbidden` below), and on relative
Markdown links in README.md, CHANGELOG.md and docs/ whose target file is missing. Prints every
problem.
Usage: check_citations.py SOURCE_DIR
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1]).resolve()
this = pathlib.Path(__file__).resolve()
patterns = ["include/**/*.hpp", "examples/**/*.cpp", "examples/**/*.hpp", "bench/**/*",
            "tests/**/*.cpp", "tests/**/*.hpp", "tests/**/*.md", "tests/**/*.cmake",
            "tests/**/*.txt", "tests/**/*.py", "tests/**/*.sh", "scripts/*", "cmake/*",
            "CMakeLists.txt", "**/CMakeLists.txt", ".ci/run", "README.md", "CHANGELOG.md",
            "docs/*.md"]
files = sorted({p for pat in patterns for p in root.glob(pat)
                if p.is_file() and p.resolve() != this and ".git" not in p.parts})

cite = re.compile(r"docs/([A-Za-z0-9_-]+\.md)(?: §(\d+(?:\.\d+)*))?")
forbidden = re.compile(r"\bspec\.md|\bnotes/|\.\./shared")
heading = re.compile(r"^#+ (\d+(?:\.\d+)*)[. ]")
list_item = re.compile(r"^(\d+)\. ")
md_link = re.compile(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)")

sections = {}
def sections_of(name):
    if name not in sections:
        path = root / "docs" / name
        found = set()
        if path.is_file():
            top = None
            for line in path.read_text(encoding="utf-8").splitlines():
                m = heading.match(line)
                if m:
                    found.add(m.group(1))
                    if line.startswith("## "):
                        top = m.group(1).split(".")[0]
                    continue
                m = list_item.match(line)
                if m and top is not None:
                    found.add(f"{top}.{m.group(1)}")
        sections[name] = found
    return sections[name]

problems = []
count = 0
for f in files:
    try:
        text = f.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        continue
    rel = f.relative_to(root)
    for n, line in enumerate(text.splitlines(), 1):
        for m in cite.finditer(line):
            count += 1
            name, sec = m.group(1), m.group(2)
            if not (root / "docs" / name).is_file():
                problems.append(f"{rel}:{n}: docs/{name} does not exist")
            elif sec and sec not in sections_of(name):
                problems.append(f"{rel}:{n}: docs/{name} has no section {sec}")
        if f.suffix == ".md" and "tests" not in rel.parts:
            for m in md_link.finditer(line):
                if not (f.parent / m.group(1)).exists():
                    problems.append(f"{rel}:{n}: link to missing file {m.group(1)}")
        if forbidden.search(line):
            problems.append(f"{rel}:{n}: cites a file outside the repository: {line.strip()[:100]}")

for p in problems:
    print(p)
print(f"{count} citations in {len(files)} files, {len(problems)} problems")
sys.exit(1 if problems else 0)
