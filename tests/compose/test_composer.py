"""compose(): one release into the exact parts each platform's channel sends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dissem.compose import compose
from dissem.compose.counting import limit, measure
from dissem.compose.shorten import ELLIPSIS, graphemes
from dissem.compose.templates import check_template, markdown_to_text
from dissem.config.models import PLATFORMS, Channel, Image, Release
from dissem.errors import ConfigError

NOW = datetime(2026, 5, 12, 1, 30, tzinfo=UTC)
URL = "https://portal.go.id/berita/vokasi?ref=home"


def release(**kw: Any) -> Release:
    data: dict[str, Any] = {
        "id": "r-vokasi",
        "title": "Indonesia and Germany sign vocational deal",
        "summary": "Both countries agree to train 10,000 technicians by 2030.",
        "url": URL,
        "tags": ["kerja sama", "vocational"],
        "targets": ["all"],
        "image": {"src": "https://portal.go.id/img/vokasi.jpg", "alt": "Ministers"},
    }
    data.update(kw)
    return Release.model_validate(data)


def channel(platform: str, **kw: Any) -> Channel:
    data: dict[str, Any] = {
        "name": f"{platform}-main",
        "platform": platform,
        "account": "acct",
        "timezone": "Asia/Jakarta",
    }
    data.update(kw)
    return Channel.model_validate(data)


def one(platform: str, rel: Release | None = None, **kw: Any) -> Any:
    comp = compose(rel or release(), channel(platform, **kw), NOW)
    assert comp.skipped is None, comp.skipped
    assert len(comp) == 1
    return comp[0]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_default_post_reads_well_and_fits(platform: str) -> None:
    part = one(platform)
    assert (part.index, part.total) == (1, 1)
    assert part.text.startswith(("Indonesia and Germany", "<b>Indonesia and Germany"))
    assert "train 10,000 technicians" in part.text
    assert "#KerjaSama" in part.text
    assert part.link is not None and f"utm_source={platform}" in part.link
    if platform == "instagram":
        assert "portal.go.id" in part.text and "http" not in part.text
    else:
        assert part.link.replace("&", "&amp;" if platform == "telegram" else "&") in part.text
    assert part.length <= part.limit
    if platform != "mastodon":
        assert part.length == measure(platform, part.text)


@pytest.mark.parametrize(
    ("platform", "options"),
    [
        ("mastodon", {"language": "en"}),
        ("telegram", {"parse_mode": "HTML"}),
        ("x", {}),
        ("instagram", {}),
    ],
)
def test_platform_options(platform: str, options: dict[str, Any]) -> None:
    assert one(platform).options == options


def test_facebook_threads_linkedin_carry_the_link() -> None:
    fb, th, li = one("facebook"), one("threads"), one("linkedin")
    assert fb.options == {"link": fb.link}
    assert th.options == {"link_attachment": th.link}
    assert li.options["article"] == {
        "source": li.link,
        "title": "Indonesia and Germany sign vocational deal",
        "description": "Both countries agree to train 10,000 technicians by 2030.",
    }


def test_utm_link_and_switch_off() -> None:
    part = one("x")
    assert part.link == (
        f"{URL}&utm_source=x&utm_medium=social&utm_campaign=r-vokasi&utm_content=x-main"
    )
    assert one("x", utm={"enabled": False}).link == URL
    assert "utm_campaign=spring" in one("x", utm={"campaign": "spring"}).link


def test_hashtag_caps_and_channel_hashtags() -> None:
    rel = release(tags=["kerja sama", "kerja-sama", "vokasi", "Jerman"])
    assert one("threads", rel).text.count("#") == 1
    part = one("mastodon", rel, hashtags=["Diplomasi Publik"])
    assert part.text.endswith("#KerjaSama #vokasi #Jerman #DiplomasiPublik")


def test_translation_in_channel_language_with_field_fallback() -> None:
    rel = release(translations={"id": {"title": "Indonesia dan Jerman teken kerja sama vokasi"}})
    part = one("mastodon", rel, language="id")
    assert part.text.startswith("Indonesia dan Jerman teken")
    assert "train 10,000 technicians" in part.text  # summary falls back to the release's
    assert part.options["language"] == "id"
    # no translation for the channel's language: the release's language is what is sent
    assert one("mastodon", release(), language="de").options["language"] == "en"


def test_instagram_needs_an_image() -> None:
    comp = compose(release(image=None), channel("instagram"), NOW)
    assert list(comp) == [] and comp.skipped == "skipped: Instagram needs an image"
    part = one("instagram")
    assert part.media[0].src == "https://portal.go.id/img/vokasi.jpg"
    assert part.media[0].alt == "Ministers"


def test_instagram_link_hint_in_indonesian() -> None:
    rel = release(translations={"id": {"title": "Judul"}})
    assert (
        "Tautan di bio, atau baca selengkapnya di portal.go.id"
        in one("instagram", rel, language="id").text
    )


def test_overrides_channel_beats_platform() -> None:
    rel = release(
        overrides={
            "x": {"title": "Platform title", "skip": True, "hashtags": ["satu"]},
            "x-main": {"skip": False, "title": "Channel title"},
        }
    )
    part = one("x", rel)
    assert part.text.startswith("Channel title") and "#satu" in part.text
    assert "#KerjaSama" not in part.text
    skipped = compose(rel, channel("x", name="x-other"), NOW)
    assert skipped.skipped == "skipped: override says skip" and not skipped


def test_override_text_is_a_template() -> None:
    rel = release(overrides={"bluesky": {"text": "🆕 {{ title }} → {{ url }}"}})
    part = one("bluesky", rel)
    assert part.text == f"🆕 Indonesia and Germany sign vocational deal → {part.link}"


def test_channel_template_and_now_in_local_time() -> None:
    tpl = "{{ now.strftime('%d/%m %H:%M') }} {{ id }} {{ priority }} {{ title | upper }}"
    assert (
        one("x", template=tpl).text
        == "12/05 08:30 r-vokasi normal INDONESIA AND GERMANY SIGN VOCATIONAL DEAL"
    )


@pytest.mark.parametrize(
    "template",
    [
        "{{ title.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ titel }}",
        "{% for x in %}",
        "{{ 1 / 0 }}",
    ],
)
def test_templates_cannot_run_code_and_errors_are_clear(template: str) -> None:
    with pytest.raises(ConfigError) as info:
        compose(release(), channel("x", template=template), NOW)
    assert "template" in str(info.value)


def test_check_template_names_unknown_variables() -> None:
    check_template("{{ title }} {{ url }}")
    with pytest.raises(ConfigError, match="titel"):
        check_template("{{ titel }}")


def test_no_autoescape() -> None:
    rel = release(title='R&D <new> "lab"', summary="")
    assert one("x", rel).text.startswith('R&D <new> "lab"')
    assert one("telegram", rel).text.startswith('<b>R&amp;D &lt;new&gt; "lab"</b>')


def test_linkedin_escapes_literal_text_only() -> None:
    rel = release(title="(Update) Deal #1 [draft] a_b @mention", summary="")
    part = one("linkedin", rel)
    assert part.text.startswith("\\(Update\\) Deal \\#1 \\[draft\\] a\\_b \\@mention")
    assert part.link in part.text and "#KerjaSama" in part.text
    assert part.length == measure("linkedin", part.text)


def test_markdown_body_as_plain_text() -> None:
    md = "## Heading\n\nSome *bold* and [a link](https://x.org).\n\n- one\n- two"
    assert markdown_to_text(md) == "Heading\n\nSome bold and a link.\n\n• one\n• two"
    rel = release(body=md)
    assert one("x", rel, template="{{ body }}").text == markdown_to_text(md)


def test_long_summary_is_shortened_and_link_kept() -> None:
    rel = release(summary="Kalimat panjang tentang kerja sama vokasi. " * 20)
    part = one("x", rel)
    assert part.length <= 280
    assert part.link in part.text
    assert "Kalimat panjang" in part.text


def test_mastodon_limits_cw_and_visibility() -> None:
    rel = release(summary="kata " * 200, content_warning="politik")
    part = one("mastodon", rel, max_length=120, url_length=30, visibility="unlisted")
    assert part.limit == 120 and part.length <= 120
    assert part.options == {"language": "en", "spoiler_text": "politik", "visibility": "unlisted"}
    override = release(overrides={"mastodon": {"content_warning": "berita duka"}})
    assert one("mastodon", override).options["spoiler_text"] == "berita duka"


def test_threads_at_most_five_distinct_links() -> None:
    links = " ".join(f"https://site{i}.example.com/p" for i in range(9))
    part = one("threads", release(summary=f"Links: {links}"))
    urls = {w for w in part.text.split() if w.startswith("https://")}
    assert len(urls) <= 5 and part.link in urls


def test_telegram_caption_limit_when_the_image_goes_along() -> None:
    short = one("telegram")
    assert short.media and short.limit == 1024
    long = one("telegram", release(summary="kata " * 400))
    assert not long.media and long.limit == 4096 and long.length > 1024
    assert long.options["parse_mode"] == "HTML"


def test_bluesky_facets_card_and_langs() -> None:
    rel = release(title="Kerja sama 🇮🇩🇩🇪 vokasi", summary="Ringkasan singkat.")
    part = one("bluesky", rel, language="en")
    raw = part.text.encode("utf-8")
    spans = {
        raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(): f["features"][0]
        for f in part.facets
    }
    assert spans[part.link] == {"$type": "app.bsky.richtext.facet#link", "uri": part.link}
    assert spans["#KerjaSama"] == {"$type": "app.bsky.richtext.facet#tag", "tag": "KerjaSama"}
    assert part.embed == {
        "$type": "app.bsky.embed.external",
        "external": {"uri": part.link, "title": rel.title, "description": rel.summary},
    }
    assert part.options == {"langs": ["en"], "thumb_src": "https://portal.go.id/img/vokasi.jpg"}


LONG_BODY = "\n\n".join(
    f"Paragraf {i}: pelatihan teknisi di Bandung, Surabaya dan Medan berlanjut tahun ini."
    for i in range(12)
)


@pytest.mark.parametrize("platform", ["x", "mastodon", "bluesky", "threads", "telegram"])
def test_thread_numbered_parts_link_first(platform: str) -> None:
    comp = compose(release(body=LONG_BODY), channel(platform, thread=True), NOW)
    assert len(comp) > 1 and comp.skipped is None
    total = len(comp)
    for i, part in enumerate(comp, start=1):
        assert (part.index, part.total) == (i, total)
        assert part.text.endswith(f"\n{i}/{total}")
        assert part.length <= part.limit
        assert (part.link is not None) == (i == 1)
    first_link = comp[0].link or ""
    assert first_link.replace("&", "&amp;" if platform == "telegram" else "&") in comp[0].text
    assert all("utm_source" not in p.text for p in comp[1:])
    # every paragraph made it into the thread, in order
    joined = " ".join(p.text for p in comp)
    positions = [joined.find(f"Paragraf {i}:") for i in range(12)]
    assert -1 not in positions and positions == sorted(positions)


def test_thread_switches() -> None:
    rel = release(body=LONG_BODY)
    assert len(compose(rel, channel("x", thread=False), NOW)) == 1
    assert len(compose(release(body=LONG_BODY, thread=True), channel("x"), NOW)) > 1
    assert len(compose(release(body=LONG_BODY, thread=False), channel("x", thread=True), NOW)) == 1
    off = release(body=LONG_BODY, thread=True, overrides={"x": {"thread": False}})
    assert len(compose(off, channel("x"), NOW)) == 1
    # platforms without threads send one post
    assert len(compose(release(body=LONG_BODY, thread=True), channel("facebook"), NOW)) == 1


def test_short_release_in_thread_mode_is_one_unnumbered_part() -> None:
    part = one("x", release(), thread=True)
    assert not part.text.endswith("1/1")


# --- exact limits: a title-only template, so the title is the whole post ---------------

CASES = [
    # (platform, one cluster, how many fit)
    ("x", "a", 280),
    ("x", "日", 140),  # CJK weighs 2
    ("x", "한", 140),  # Korean weighs 2
    ("x", "👨‍👩‍👧‍👦", 140),  # an emoji sequence weighs 2
    ("x", "🇮🇩", 140),
    ("mastodon", "👨‍👩‍👧‍👦", 500),  # graphemes
    ("mastodon", "ب", 500),  # Arabic
    ("mastodon", "ṩ̂", 500),  # base + combining marks (one cluster after NFC)
    ("bluesky", "a", 300),
    ("bluesky", "🇮🇩", 300),  # 300 clusters, 2400 bytes: fits both limits
    ("bluesky", "👨‍👩‍👧‍👦", 120),  # 25 bytes each: the 3000-byte limit binds first
    ("linkedin", "a", 3000),
    ("telegram", "a", 4096),
    ("facebook", "é", 63206),
]


@pytest.mark.parametrize(("platform", "cluster", "most"), CASES)
def test_exactly_at_the_limit_and_one_over(platform: str, cluster: str, most: int) -> None:
    # Telegram counts the text after its HTML is parsed: the <b> around the title is free
    bold = ("<b>", "</b>") if platform == "telegram" else ("", "")
    ok = one(platform, release(title=cluster * most, image=None), template="{{ title }}")
    assert ok.text == bold[0] + cluster * most + bold[1]
    assert ok.length == ok.limit or len(ok.text.encode()) == 3000  # Bluesky's byte cap
    over = one(platform, release(title=cluster * (most + 1), image=None), template="{{ title }}")
    plain = over.text.removeprefix(bold[0]).removesuffix(bold[1])
    assert plain.endswith(ELLIPSIS) and over.length <= over.limit
    assert set(graphemes(plain.removesuffix(ELLIPSIS))) == {cluster}


def test_telegram_measures_what_is_sent() -> None:
    part = one("telegram", release(title="a & b", summary="", image=None), template="{{ title }}")
    assert part.text == "<b>a &amp; b</b>"
    assert part.length == measure("telegram", part.text) and part.limit == limit("telegram")


def test_pure_and_repeatable() -> None:
    rel, ch = release(body=LONG_BODY), channel("bluesky", thread=True)
    before = rel.model_dump()
    first, second = compose(rel, ch, NOW), compose(rel, ch, NOW)
    assert [p.to_json() for p in first] == [p.to_json() for p in second]
    assert rel.model_dump() == before


def test_image_alt_kept() -> None:
    rel = release(image=Image(src="https://p.id/a.jpg", alt="Foto bersama"))
    assert one("instagram", rel).media[0].alt == "Foto bersama"


def test_a_summary_cut_to_a_stub_is_left_out() -> None:
    rel = release(
        title="T " * 130,  # leaves room for "Information…" only
        summary="Information officers from forty missions meet in Jakarta for three days.",
    )
    part = one("x", rel, template="{{ title }}\n\n{{ summary }}")
    assert "Information" not in part.text


@pytest.mark.parametrize("platform", ["x", "bluesky", "mastodon", "threads", "telegram"])
def test_a_long_template_literal_still_keeps_the_link(platform: str) -> None:
    literal = "Kementerian Luar Negeri menyampaikan informasi berikut. " * 80
    part = one(platform, release(image=None), template=literal + "{{ url }}")
    sent_link = (part.link or "").replace("&", "&amp;" if platform == "telegram" else "&")
    assert part.text.endswith(sent_link)
    assert part.length <= part.limit
    assert part.text.startswith("Kementerian Luar Negeri")


def test_html_in_markdown_body_is_dropped_and_code_kept() -> None:
    md = "<div>ignored</div>\n\nText with `code` and ![alt text](i.png).\n\n```\nblock\n```"
    assert markdown_to_text(md) == "Text with code and alt text.\n\nblock"


def test_thread_of_ten_parts_numbers_fit() -> None:
    body = "\n\n".join(f"Paragraf {i}: " + "kata panjang sekali " * 20 for i in range(40))
    comp = compose(release(body=body), channel("x", thread=True), NOW)
    assert len(comp) == 10
    assert comp[0].text.endswith("\n1/10") and comp[-1].text.endswith(f"{ELLIPSIS}\n10/10")
    assert all(p.length <= p.limit for p in comp)


def test_translation_without_body_does_not_mix_languages() -> None:
    from datetime import UTC, datetime

    from dissem.compose import compose
    from dissem.config.models import Channel, Release

    release = Release.model_validate(
        {
            "id": "r",
            "title": "Judul bahasa Indonesia",
            "summary": "Ringkasan",
            "body": "Isi berita yang panjang dalam bahasa Indonesia. " * 20,
            "url": "https://portal.example.org/a",
            "language": "id",
            "translations": {"en": {"title": "English title", "summary": "English summary"}},
            "targets": ["c"],
            "thread": True,
        }
    )
    channel = Channel.model_validate(
        {"name": "c", "platform": "bluesky", "account": "a", "timezone": "UTC", "language": "en"}
    )
    parts = compose(release, channel, datetime(2026, 12, 1, tzinfo=UTC))
    text = "\n".join(p.text for p in parts)
    assert "English title" in text
    assert "bahasa Indonesia" not in text
