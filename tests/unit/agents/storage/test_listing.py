"""Swift's listing rules: prefix, delimiter, markers, limit and reverse."""
from __future__ import annotations

from agents.storage.listing import Subdir, list_entries, memory_fetch

NAMES = ["2023/a.jpg", "2024/01/x.jpg", "2024/01/y.jpg", "2024/02/z.jpg", "2024/readme",
         "a", "b", "b/c", "c"]


def names(entries):
    return [e.name + ("(dir)" if isinstance(e, Subdir) else "") for e in entries]


def listing(**kw):
    return names(list_entries(memory_fetch(NAMES), **kw))


def test_plain_listing_is_sorted():
    assert listing() == sorted(NAMES)


def test_prefix():
    assert listing(prefix="2024/") == ["2024/01/x.jpg", "2024/01/y.jpg", "2024/02/z.jpg",
                                       "2024/readme"]


def test_prefix_and_delimiter_fold_subdirs():
    assert listing(prefix="2024/", delimiter="/") == ["2024/01/(dir)", "2024/02/(dir)",
                                                      "2024/readme"]
    assert listing(delimiter="/") == ["2023/(dir)", "2024/(dir)", "a", "b", "b/(dir)", "c"]


def test_markers():
    assert listing(marker="a") == ["b", "b/c", "c"]
    assert listing(end_marker="2024/02") == ["2023/a.jpg", "2024/01/x.jpg", "2024/01/y.jpg"]
    assert listing(marker="a", end_marker="c") == ["b", "b/c"]


def test_limit_counts_subdirs():
    assert listing(delimiter="/", limit=3) == ["2023/(dir)", "2024/(dir)", "a"]
    assert listing(limit=2, marker="2024/01/y.jpg") == ["2024/02/z.jpg", "2024/readme"]


def test_reverse():
    assert listing(reverse=True) == sorted(NAMES, reverse=True)
    assert listing(reverse=True, marker="b") == ["a", "2024/readme", "2024/02/z.jpg",
                                                 "2024/01/y.jpg", "2024/01/x.jpg",
                                                 "2023/a.jpg"]
    assert listing(reverse=True, end_marker="b") == ["c", "b/c"]
    assert listing(reverse=True, delimiter="/") == ["c", "b/(dir)", "b", "a", "2024/(dir)",
                                                    "2023/(dir)"]
    assert listing(reverse=True, prefix="2024/", delimiter="/", limit=2) == [
        "2024/readme", "2024/02/(dir)"]


def test_paging_with_marker_visits_everything_once():
    seen, marker = [], ""
    while True:
        page = listing(limit=2, marker=marker)
        if not page:
            break
        seen += page
        marker = page[-1]
    assert seen == sorted(NAMES)


def test_unicode_names_sort_by_code_point():
    fetch = memory_fetch(["é", "z", "a", "日本"])
    assert names(list_entries(fetch)) == ["a", "z", "é", "日本"]
