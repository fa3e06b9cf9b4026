"""Applying blocks: exact, fuzzy, indentation, deletion, insertion, hints, several blocks,
partial failure, escapes, line endings, unicode. Many cases mirror Roo-Code's own tests."""

from __future__ import annotations

import pytest

from roo.agent.diff import apply_diff, levenshtein, normalize_string, similarity


def block(search: str, replace: str, start: int | None = None) -> str:
    hint = f":start_line:{start}\n-------\n" if start is not None else ""
    body = f"{replace}\n" if replace else ""
    return f"<<<<<<< SEARCH\n{hint}{search}\n=======\n{body}>>>>>>> REPLACE"


def applied(original: str, diff: str, **options: float) -> str:
    result = apply_diff(original, diff, **options)  # type: ignore[arg-type]
    assert result.success, result.fail_parts or result.error
    assert result.fail_parts == ()
    assert result.content is not None
    return result.content


# --- exact matching --------------------------------------------------------------------------


def test_replaces_matching_content() -> None:
    original = 'function hello() {\n    console.log("hello")\n}\n'
    diff = "test.ts\n" + block(
        'function hello() {\n    console.log("hello")\n}',
        'function hello() {\n    console.log("hello world")\n}',
    )
    assert applied(original, diff) == 'function hello() {\n    console.log("hello world")\n}\n'


def test_multiple_blocks_without_hints() -> None:
    original = 'function hello() {\n    console.log("hello")\n}\n'
    diff = (
        block("function hello() {", "function helloWorld() {")
        + "\n"
        + block('    console.log("hello")', '    console.log("hello world")')
    )
    assert applied(original, diff) == 'function helloWorld() {\n    console.log("hello world")\n}\n'


def test_multiple_blocks_with_hints() -> None:
    original = 'function hello() {\n    console.log("hello")\n}\n'
    diff = (
        block("function hello() {", "function helloWorld() {", 1)
        + "\n"
        + block('    console.log("hello")', '    console.log("hello world")', 2)
    )
    assert applied(original, diff) == 'function helloWorld() {\n    console.log("hello world")\n}\n'


def test_end_line_is_ignored() -> None:
    original = 'function hello() {\n    console.log("hello")\n}\n'
    diff = (
        "<<<<<<< SEARCH\n:start_line:1\n:end_line:1\n-------\nfunction hello() {\n=======\n"
        "function helloWorld() {\n>>>>>>> REPLACE"
    )
    assert applied(original, diff) == 'function helloWorld() {\n    console.log("hello")\n}\n'


def test_surrounding_blank_lines_are_kept() -> None:
    original = "\nfunction example() {\n    return 42;\n}\n\n"
    diff = block(
        "function example() {\n    return 42;\n}", "function example() {\n    return 43;\n}"
    )
    assert applied(original, diff) == "\nfunction example() {\n    return 43;\n}\n\n"


def test_search_that_does_not_match_fails() -> None:
    original = 'function hello() {\n    console.log("hello")\n}\n'
    result = apply_diff(original, block('    console.log("wrong")', "    x"))
    assert not result.success
    assert result.content is None
    assert len(result.fail_parts) == 1
    error = result.fail_parts[0].error
    assert error.startswith("No sufficiently similar match found (")
    assert "needs 100%)" in error
    assert "- Search Range: start to end" in error
    assert "Best Match Found:\n" in error
    assert "Original Content:\n1 | function hello() {" in error


def test_extra_gt_after_search_marker_is_accepted() -> None:
    diff = "<<<<<<< SEARCH>\nold\n=======\nnew\n>>>>>>> REPLACE"
    assert applied("a\nold\nb", diff) == "a\nnew\nb"


def test_trailing_spaces_after_markers_are_tolerated() -> None:
    diff = "<<<<<<< SEARCH  \nold\n=======   \nnew\n>>>>>>> REPLACE"
    assert applied("old\n", diff) == "new\n"


def test_first_matching_occurrence_nearest_the_middle_wins_without_hint() -> None:
    original = "x\na\ny\na\nz\nq\nr"
    # window 0..7, midpoint 3: the candidate at index 3 is tried first and wins the tie.
    assert applied(original, block("a", "b")) == "x\na\ny\nb\nz\nq\nr"


# --- normalisation and fuzzy matching ---------------------------------------------------------


def test_whitespace_differences_match_at_threshold_one() -> None:
    original = "def f():\n    return  1 +   2\n"
    assert (
        applied(original, block("    return 1 + 2", "    return 3")) == "def f():\n    return 3\n"
    )


def test_smart_quotes_and_dashes_are_normalised() -> None:
    original = "msg = \u201chello\u201d \u2014 it\u2019s\u2026\n"
    assert applied(original, block('msg = "hello" - it\'s...', "msg = 'bye'")) == "msg = 'bye'\n"


def test_typo_fails_at_default_threshold() -> None:
    result = apply_diff(
        "const value = computeTotal(items)\n", block("const value = computeTotl(items)", "x")
    )
    assert not result.success
    assert "% similar, needs 100%)" in result.fail_parts[0].error


def test_typo_matches_with_lower_threshold() -> None:
    original = "const value = computeTotal(items)\n"
    diff = block("const value = computeTotl(items)", "const value = 0")
    assert applied(original, diff, fuzzy_threshold=0.9) == "const value = 0\n"


def test_too_different_fails_with_lower_threshold() -> None:
    result = apply_diff("alpha beta\n", block("completely other text", "x"), fuzzy_threshold=0.9)
    assert not result.success
    assert "needs 90%" in result.fail_parts[0].error


def test_fuzzy_picks_best_candidate() -> None:
    original = "value = 1\nvalue = 2\nvalues = 3\n"
    assert applied(original, block("values = 3", "v = 3"), fuzzy_threshold=0.8) == (
        "value = 1\nvalue = 2\nv = 3\n"
    )


def test_similarity_helpers() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert levenshtein("abcdef", "uvwxyz", limit=2) == 3
    assert normalize_string("  a\t\n b \u00a0c ") == "a b c"
    assert similarity("abc", "") == 0.0
    assert similarity("a  b", "a b") == 1.0
    assert similarity("abcd", "abce") == pytest.approx(0.75)


# --- indentation ------------------------------------------------------------------------------


def test_different_indentation_in_search_block() -> None:
    original = "    function test() {\n        return true;\n    }\n"
    diff = block(
        "function test() {\n    return true;\n}", "function test() {\n    return false;\n}"
    )
    assert applied(original, diff) == "    function test() {\n        return false;\n    }\n"


def test_tab_indentation() -> None:
    original = "function test() {\n\treturn true;\n}\n"
    diff = block("function test() {\n\treturn true;\n}", "function test() {\n\treturn false;\n}")
    assert applied(original, diff) == "function test() {\n\treturn false;\n}\n"


def test_mixed_tabs_and_spaces_preserved() -> None:
    original = "\tclass Example {\n\t    constructor() {\n\t\tthis.value = 0;\n\t    }\n\t}"
    search = "\tclass Example {\n\t    constructor() {\n\t\tthis.value = 0;\n\t    }\n\t}"
    diff = block(search, search.replace("= 0", "= 1"))
    assert applied(original, diff) == original.replace("= 0", "= 1")


def test_additional_indentation_with_tabs() -> None:
    original = "\tfunction test() {\n\t\treturn true;\n\t}"
    diff = block(
        "function test() {\n\treturn true;\n}",
        "function test() {\n\t// Add comment\n\treturn false;\n}",
    )
    assert (
        applied(original, diff) == "\tfunction test() {\n\t\t// Add comment\n\t\treturn false;\n\t}"
    )


def test_exact_indentation_kept_when_adding_lines() -> None:
    original = "\tfunction test() {\n\t\treturn true;\n\t}"
    diff = block(
        "\tfunction test() {\n\t\treturn true;\n\t}",
        "\tfunction test() {\n\t\t// First comment\n\t\t// Second comment\n\t\treturn true;\n\t}",
    )
    assert applied(original, diff) == (
        "\tfunction test() {\n\t\t// First comment\n\t\t// Second comment\n\t\treturn true;\n\t}"
    )


def test_nested_indentation_levels() -> None:
    original = (
        "class Example {\n    constructor() {\n        this.value = 0;\n        if (true) {\n"
        "            this.init();\n        }\n    }\n}"
    )
    search = (
        "    class Example {\n        constructor() {\n            this.value = 0;\n"
        "            if (true) {\n                this.init();\n            }\n        }\n    }"
    )
    replace = search.replace("= 0", "= 1").replace(
        "this.init();", "this.init();\n                this.setup();"
    )
    expected = original.replace("= 0", "= 1").replace(
        "this.init();", "this.init();\n            this.setup();"
    )
    assert applied(original, block(search, replace)) == expected


def test_dedent_relative_to_search() -> None:
    original = "if x:\n        deep()\n"
    diff = block("        deep()", "    shallow()\n        deep()")
    # The replacement is 4 characters less indented than the SEARCH line: 4 cut from the match.
    assert applied(original, diff) == "if x:\n    shallow()\n        deep()\n"


def test_trailing_whitespace_in_replace_is_trimmed() -> None:
    assert applied("a = 1\n", block("a = 1", "a = 2   ")) == "a = 2\n"


def test_indentation_taken_from_file_not_search() -> None:
    original = "\t\tvalue()\n"
    assert applied(original, block("    value()", "    other()\n      nested()")) == (
        "\t\tother()\n\t\t  nested()\n"
    )


# --- deletion and insertion -------------------------------------------------------------------


def test_delete_lines_with_empty_replace() -> None:
    assert applied("a\nb\nc\nd\n", block("b\nc", "")) == "a\nd\n"


def test_delete_only_line() -> None:
    assert applied("only", block("only", "")) == ""


def test_insert_after_anchor_line() -> None:
    assert applied("a\nb\n", block("a", "a\ninserted")) == "a\ninserted\nb\n"


def test_insert_before_anchor_line() -> None:
    assert applied("a\nb\n", block("b", "new\nb", 2)) == "a\nnew\nb\n"


def test_insert_at_end_of_file() -> None:
    assert applied("a\nb", block("b", "b\nc\nd", 2)) == "a\nb\nc\nd"


def test_empty_search_is_refused() -> None:
    result = apply_diff("a\n", "<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE")
    assert not result.success
    assert result.fail_parts[0].error.startswith(
        "Empty search content is not allowed\n\nDebug Info:"
    )


def test_identical_search_and_replace_is_refused() -> None:
    result = apply_diff("a\n", block("a", "a"))
    assert not result.success
    assert result.fail_parts[0].error.startswith(
        "Search and replace content are identical - no changes would be made"
    )


def test_empty_file_cannot_be_matched() -> None:
    result = apply_diff("", block("anything", "x"))
    assert not result.success
    assert "No sufficiently similar match found" in result.fail_parts[0].error


# --- line hints -------------------------------------------------------------------------------


def _numbered_file(count: int) -> str:
    return "\n".join(f"line {i}" for i in range(1, count + 1))


def test_hint_selects_among_duplicates() -> None:
    original = "x = 1\ny\nx = 1\nz\n"
    assert applied(original, block("x = 1", "x = 2", 3)) == "x = 1\ny\nx = 2\nz\n"


def test_wrong_hint_within_buffer_still_matches() -> None:
    original = _numbered_file(100)
    result = applied(original, block("line 50", "LINE 50", 70))
    assert "\nLINE 50\n" in result


def test_wrong_hint_beyond_buffer_fails() -> None:
    original = _numbered_file(200)
    result = apply_diff(original, block("line 10", "LINE 10", 150))
    assert not result.success
    error = result.fail_parts[0].error
    assert error.startswith("No sufficiently similar match found at line: 150 (")
    assert "- Search Range: starting at line 150" in error
    assert "Original Content:\n110 | line 110" in error


def test_custom_buffer_size() -> None:
    original = _numbered_file(30)
    assert not apply_diff(original, block("line 5", "x", 20), buffer_lines=5).success
    assert apply_diff(original, block("line 5", "x", 20), buffer_lines=20).success


def test_hint_beyond_end_of_file_searches_the_window() -> None:
    original = _numbered_file(10)
    assert applied(original, block("line 9", "nine", 30)).split("\n")[8] == "nine"


def test_hints_are_shifted_by_earlier_blocks() -> None:
    original = "a\nb\nc\nd\n"
    diff = block("a", "a1\na2\na3", 1) + "\n" + block("c", "C", 3)
    assert applied(original, diff) == "a1\na2\na3\nb\nC\nd\n"


def test_blocks_are_applied_in_hint_order() -> None:
    original = "one\ntwo\nthree\n"
    diff = block("three", "3", 3) + "\n" + block("one", "1\n1b", 1)
    assert applied(original, diff) == "1\n1b\ntwo\n3\n"


# --- line-number prefixes ---------------------------------------------------------------------


def test_line_numbers_are_stripped() -> None:
    original = "def f():\n    return 1\n"
    diff = block("1 | def f():\n2 |     return 1", "1 | def f():\n2 |     return 2")
    assert applied(original, diff) == "def f():\n    return 2\n"


def test_line_numbers_give_the_hint() -> None:
    original = "x\ny\nx\n"
    assert applied(original, block("3 | x", "3 | z")) == "x\ny\nz\n"


def test_line_numbers_with_empty_replace() -> None:
    assert applied("a\nb\nc", block("2 | b", "")) == "a\nc"


def test_aggressive_stripping_fallback() -> None:
    original = "alpha\nbeta\n"
    # Not every line is numbered, so only the aggressive pass strips the prefixes.
    diff = block("| alpha\n2 | beta", "| ALPHA\n2 | beta")
    assert applied(original, diff) == "ALPHA\nbeta\n"


# --- several blocks, partial failure ----------------------------------------------------------


def test_one_of_three_blocks_fails() -> None:
    original = "first\nsecond\nthird\n"
    diff = "\n".join([block("first", "1st", 1), block("missing", "x", 2), block("third", "3rd", 3)])
    result = apply_diff(original, diff)
    assert result.success
    assert result.content == "1st\nsecond\n3rd\n"
    assert (result.applied, result.total) == (2, 3)
    assert [(p.index, p.start_line) for p in result.fail_parts] == [(1, 2)]
    assert result.fail_parts[0].error.startswith("No sufficiently similar match found at line: 2")


def test_all_blocks_fail() -> None:
    result = apply_diff("a\n", block("x", "y") + "\n" + block("z", "w"))
    assert not result.success
    assert result.content is None
    assert len(result.fail_parts) == 2
    assert result.total == 2


def test_identical_block_fails_alone() -> None:
    result = apply_diff("a\nb\n", block("a", "a") + "\n" + block("b", "B"))
    assert result.content == "a\nB\n"
    assert result.fail_parts[0].error.startswith("Search and replace content are identical")


# --- escaped markers --------------------------------------------------------------------------


def test_remove_merge_conflict_markers_with_escapes() -> None:
    original = "a\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> branch\nb\n"
    diff = block("\\<<<<<<< HEAD\nours\n\\=======\ntheirs\n\\>>>>>>> branch", "ours")
    assert applied(original, diff) == "a\nours\nb\n"


def test_escaped_separator_in_replace_is_written_unescaped() -> None:
    original = "title\n"
    assert applied(original, block("title", "title\n\\=======")) == "title\n=======\n"


def test_escaped_dashes_and_line_markers_in_content() -> None:
    original = "x\n-------\n:start_line:4\n"
    diff = block("\\-------\n\\:start_line:4", "dashes")
    assert applied(original, diff) == "x\ndashes\n"


# --- line endings, unicode --------------------------------------------------------------------


def test_crlf_file_keeps_crlf() -> None:
    original = "function test() {\r\n    return true;\r\n}\r\n"
    diff = block(
        "function test() {\n    return true;\n}", "function test() {\n    return false;\n}"
    )
    assert applied(original, diff) == "function test() {\r\n    return false;\r\n}\r\n"


def test_trailing_newline_preserved() -> None:
    assert applied("a\nb\n", block("b", "c")) == "a\nc\n"


def test_missing_trailing_newline_preserved() -> None:
    assert applied("a\nb", block("b", "c")) == "a\nc"


def test_unicode_content() -> None:
    original = "名前 = 'ä'\nemoji = '🎉'\n"
    assert applied(original, block("emoji = '🎉'", "emoji = '🚀'")) == "名前 = 'ä'\nemoji = '🚀'\n"


def test_large_file_with_hint_is_fast_enough() -> None:
    original = _numbered_file(5000)
    assert "\nLINE 4000\n" in applied(original, block("line 4000", "LINE 4000", 3990))
