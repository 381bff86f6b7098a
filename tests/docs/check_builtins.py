#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every compiler builtin used by a public header is guarded.

A `__builtin_NAME` call in include/ (comments aside) must sit inside an
`#if ROPESCALE_HAS_BUILTIN(__builtin_NAME)` block, so a compiler without the builtin takes the
portable `#else` path. Prints every unguarded use.
Usage: check_builtins.py SOURCE_DIR
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1]).resolve()
use = re.compile(r"\b(__builtin_\w+)\b")
guard = re.compile(r"^\s*#\s*(if|elif)\b.*ROPESCALE_HAS_BUILTIN\((__builtin_\w+)\)")
problems = []
count = 0
for path in sorted((root / "include").rglob("*.hpp")):
    stack = []  # one set of guarded builtins per open #if
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        directive = re.match(r"^\s*#\s*(\w+)", line)
        if directive:
            word = directive.group(1)
            if word in ("if", "ifdef", "ifndef"):
                m = guard.match(line)
                stack.append({m.group(2)} if m else set())
            elif word == "elif":
                m = guard.match(line)
                if stack:
                    stack[-1] = {m.group(2)} if m else set()
            elif word == "else":
                if stack:
                    stack[-1] = set()  # the portable branch
            elif word == "endif":
                if stack:
                    stack.pop()
            if word in ("if", "elif", "ifdef", "ifndef", "else", "endif"):
                continue
        code = line.split("//", 1)[0]
        for name in use.findall(code):
            count += 1
            if not any(name in level for level in stack):
                problems.append(f"{path.relative_to(root)}:{number}: {name} without "
                                f"#if ROPESCALE_HAS_BUILTIN({name})")
for p in problems:
    print(p)
print(f"{count} builtin uses, {len(problems)} unguarded")
sys.exit(1 if problems else 0)
