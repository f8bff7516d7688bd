"""Language detection from extension, file name, shebang, modeline and content."""

from __future__ import annotations

import pytest

from app.detect import detect_language


@pytest.mark.parametrize(("path", "head", "expected"), [
    ("a/b.py", b"", "python"),
    ("x.pyi", b"", "python"),
    ("app.mjs", b"", "javascript"),
    ("types.ts", b"", "typescript"),
    ("view.tsx", b"", "tsx"),
    ("Program.cs", b"", "csharp"),
    ("main.go", b"", "go"),
    ("lib.rs", b"", "rust"),
    ("Main.java", b"", "java"),
    ("x.c", b"", "c"),
    ("x.hpp", b"", "cpp"),
    ("X.CPP", b"", "cpp"),
    # A .h header is C unless it uses C++-only syntax.
    ("plain.h", b"#include <stdio.h>\nstruct s { int a; };\n", "c"),
    ("klass.h", b"#pragma once\nnamespace app {\nclass A {\n};\n}\n", "cpp"),
    ("access.h", b"struct S {\npublic:\n  int x;\n};\n", "cpp"),
    ("std.h", b"#include <vector>\n", "cpp"),
    ("scoped.h", b"int f() { return std::max(1, 2); }\n", "cpp"),
    # Shebangs and file names for files without an extension.
    ("bin/tool", b"#!/usr/bin/env python3\nprint(1)\n", "python"),
    ("bin/tool", b"#!/usr/bin/python3.11 -u\n", "python"),
    ("bin/run", b"#!/usr/bin/env node\n", "javascript"),
    ("bin/run", b"#!/usr/bin/env -S deno run\n", "typescript"),
    ("bin/run", b"#!/bin/sh\n", "shell"),
    ("SConstruct", b"env = Environment()\n", "python"),
    # Modelines override the extension.
    ("weird.h", b"// -*- C++ -*-\nint x;\n", "cpp"),
    ("script", b"# vim: set ft=python:\nx = 1\n", "python"),
    ("legacy.py", b"# -*- coding: utf-8 -*-\n", "python"),
    # Content of files without an extension.
    ("gofile", b"// comment\npackage main\n\nfunc main() {}\n", "go"),
    ("cfile", b"#include <stdlib.h>\nint main(void) { return 0; }\n", "c"),
    ("cppfile", b"#include <iostream>\nint main() { std::cout << 1; }\n", "cpp"),
    ("pyfile", b"import os\n\ndef main():\n    pass\n", "python"),
    # Anything else is text.
    ("README", b"Just words.\n", "text"),
    ("notes.md", b"# Title\n", "markdown"),
    ("data.bin.unknownext", b"", "text"),
])
def test_detect_language(path: str, head: bytes, expected: str) -> None:
    assert detect_language(path, head) == expected
