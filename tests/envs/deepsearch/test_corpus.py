from __future__ import annotations

import json
import re

import pytest

from agentgym.envs.deepsearch.corpus import (
    Corpus,
    CorpusFormatError,
    Page,
    clean_html,
    fictional_corpus,
    fictional_world,
    jsonl_corpus,
    load_factbook,
    parse_factbook_country,
    split_passages,
)

# ---- Factbook ------------------------------------------------------------------------------------


def test_factbook_has_every_country_and_section(factbook):
    countries = load_factbook()
    assert len(countries) == 256
    assert len({c.slug for c in countries}) == 256
    assert 2_500 <= len(factbook) <= 3_400  # 256 entries x their non-empty sections
    assert len({page.url.split("/")[2] for page in factbook}) == 256
    for page in factbook:
        assert re.fullmatch(r"factbook://[a-z0-9-]+/[a-z-]+", page.url), page.url
        assert " — " in page.title
        assert page.text.strip()


def test_factbook_urls_are_stable(factbook):
    for url in [
        "factbook://argentina/geography",
        "factbook://argentina/government",
        "factbook://united-states/people-and-society",
        "factbook://cote-d-ivoire/economy",
        "factbook://democratic-republic-of-the-congo/introduction",
        "factbook://world/introduction",
    ]:
        assert url in factbook, url
    assert factbook.get("factbook://argentina/geography").title == "Argentina — Geography"


def test_factbook_text_is_unescaped_and_tag_free(factbook):
    brazil = factbook.get("factbook://brazil/government").text
    assert "Capital - name: Brasília" in brazil
    for page in factbook:
        assert not re.search(r"&(?:[a-z]+|#\d+);", page.text), page.url
        assert not re.search(r"</?(?:p|br|strong|em|b|i)\s*/?>", page.text), page.url
        assert "\xa0" not in page.text


def test_factbook_fields_render_as_labelled_lines(factbook):
    geo = factbook.get("factbook://argentina/geography").text
    assert (
        "Land boundaries - border countries: Bolivia 942 km; Brazil 1,263 km; Chile 6,691 km" in geo
    )
    assert "Area - total: 2,780,400 sq km" in geo
    gov = factbook.get("factbook://argentina/government").text
    assert "Independence: 9 July 1816 (from Spain)" in gov
    assert "Citizenship - citizenship by birth: yes" in gov
    # notes lose their duplicated "note:" prefix
    assert "Administrative divisions - note: the US does not recognize" in gov


def test_factbook_corpus_is_cached_per_process(factbook):
    from agentgym.envs.deepsearch.corpus import factbook_corpus

    assert factbook_corpus() is factbook


def test_clean_html():
    assert clean_html("<p>a</p><p>b<br>c</p>") == "a\nb\nc"
    assert clean_html("Bras&iacute;lia&nbsp; x") == "Brasília x"
    assert clean_html("less than <1% and 3>2") == "less than <1% and 3>2"
    assert clean_html("&lt;b&gt;") == "<b>"


def test_parse_country_names_and_aliases():
    data = {
        "Government": {
            "Country name": {
                "conventional short form": {"text": "none"},
                "conventional long form": {"text": "The Republic"},
            }
        }
    }
    country = parse_factbook_country("zz", data)
    assert country.name == "The Republic"
    assert "Republic" in country.aliases
    assert country.url("Government") == "factbook://the-republic/government"


# ---- passages ------------------------------------------------------------------------------------


def test_passages_are_verbatim_and_sized(factbook):
    passages = factbook.passages
    assert len(passages) > 5_000
    by_page: dict[str, list] = {}
    for passage in passages:
        by_page.setdefault(passage.page_url, []).append(passage)
        page = factbook.get(passage.page_url)
        assert page.text[passage.start : passage.start + len(passage.text)] == passage.text
        assert 1 <= len(passage.text.split()) <= 200
    assert set(by_page) == set(factbook.urls)
    for url, page_passages in list(by_page.items())[:300]:
        assert [p.index for p in page_passages] == list(range(len(page_passages)))
        words = sum(len(p.text.split()) for p in page_passages)
        assert words == len(factbook.get(url).text.split())  # nothing lost, nothing repeated
    assert factbook.passages_of("factbook://argentina/government")[0].index == 0


def test_split_long_lines_at_sentences_then_words():
    sentence = "Alpha " + " ".join(["word"] * 149) + "."
    page = Page("u://x", "X", f"{sentence} {sentence} Short tail.")
    passages = split_passages(page, min_words=100, max_words=200)
    assert [len(p.text.split()) for p in passages] == [150, 150, 2]
    giant = Page("u://g", "G", " ".join(["w"] * 450))
    assert [len(p.text.split()) for p in split_passages(giant)] == [200, 200, 50]


def test_small_lines_are_packed():
    page = Page("u://x", "X", "\n".join(f"line {i} has five words" for i in range(100)))
    passages = split_passages(page, min_words=100, max_words=200)
    assert all(100 <= len(p.text.split()) <= 200 for p in passages)


def test_content_hash_tracks_content():
    a = Corpus([Page("u://1", "T", "text")])
    assert a.content_hash == Corpus([Page("u://1", "T", "text")]).content_hash
    assert a.content_hash != Corpus([Page("u://1", "T", "text!")]).content_hash
    assert a.content_hash != Corpus([Page("u://1", "T", "text")], min_words=50).content_hash


def test_corpus_lookup_errors():
    corpus = Corpus([Page("doc://alpha", "A", "x")])
    with pytest.raises(KeyError, match="doc://alpha"):
        corpus.get("doc://alpah")
    with pytest.raises(ValueError, match="duplicate"):
        Corpus([Page("u", "a", "x"), Page("u", "b", "y")])
    assert 3 not in corpus


# ---- JSONL corpora -------------------------------------------------------------------------------


def write_lines(path, *lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_corpus_loads(tmp_path):
    path = write_lines(
        tmp_path / "c.jsonl",
        json.dumps({"url": "u://1", "title": "One", "text": "Première page.", "extra": 1}),
        "",
        json.dumps({"url": "u://2", "title": "Two", "text": "Second page."}),
    )
    corpus = jsonl_corpus(path)
    assert corpus.urls == ["u://1", "u://2"]
    assert corpus.get("u://1").text == "Première page."
    assert corpus.name == "c.jsonl"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON: Expecting property name enclosed in double quotes (column 2)"),
        ('{"url": ' + "1" * 5000 + "}", "invalid JSON: an integer of more than 4300 digits (column 9)"),
        ("[1, 2]", "expected a JSON object"),
        ('{"url": "u://2", "title": "T"}', "missing key 'text'"),
        ('{"url": "u://2", "title": 5, "text": "t"}', "'title' must be a string, got int"),
        ('{"url": " ", "title": "T", "text": "t"}', "'url' is empty"),
        ('{"url": "u://1", "title": "T", "text": "t"}', "duplicate url 'u://1' (first on line 1)"),
    ],
)
def test_jsonl_corpus_errors_name_file_and_line(tmp_path, line, message):
    good = json.dumps({"url": "u://1", "title": "T", "text": "t"})
    path = write_lines(tmp_path / "bad.jsonl", good, "", line)
    with pytest.raises(CorpusFormatError) as info:
        jsonl_corpus(path)
    assert str(info.value).startswith(f"{path}:3: ")
    assert message in str(info.value)


def test_jsonl_corpus_empty_and_missing(tmp_path):
    with pytest.raises(CorpusFormatError, match="no pages"):
        jsonl_corpus(write_lines(tmp_path / "empty.jsonl", ""))
    with pytest.raises(FileNotFoundError):
        jsonl_corpus(tmp_path / "nope.jsonl")


# ---- fictional world -----------------------------------------------------------------------------


def test_fictional_corpus_is_deterministic_per_seed():
    a = fictional_corpus(seed=7, n_entities=120)
    b = fictional_corpus(seed=7, n_entities=120)
    c = fictional_corpus(seed=8, n_entities=120)
    assert [(p.url, p.title, p.text) for p in a] == [(p.url, p.title, p.text) for p in b]
    assert a.content_hash == b.content_hash != c.content_hash
    assert len(a) == 120


def test_fictional_world_is_consistent():
    world = fictional_world(seed=3, n_entities=200)
    kinds = {e.kind for e in world.entities.values()}
    assert kinds == {"person", "organisation", "city", "country", "event"}
    names = [e.name for e in world.entities.values()]
    assert len(set(n.lower() for n in names)) == len(names)
    for entity in world.entities.values():
        for key, value in entity.attrs.items():
            if key.endswith("_id"):
                assert value in world.entities
    for country in world.of_kind("country"):
        capital = world.entities[country.attrs["capital_id"]]
        assert capital.attrs["country_id"] == country.id
    corpus = world.corpus()
    page = corpus.get(world.url("person-0"))
    for sentence in world.facts("person-0").values():
        assert sentence in page.text
    with pytest.raises(ValueError):
        fictional_world(n_entities=5)
