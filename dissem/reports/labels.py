"""Report wording in English and Indonesian, and numbers written the way each language does.

Every language has exactly the same keys (a test keeps it so); :func:`labels` returns one
language's dict. Numbers: English ``12,345`` and ``4.5%``; Indonesian ``12.345`` and
``4,5%``. Platform names are written as their owners write them (:func:`platform_name`),
the same in every language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from dissem.traits import find_traits

__all__ = [
    "LABELS",
    "Lang",
    "fmt_change",
    "fmt_compare",
    "fmt_int",
    "fmt_pct",
    "labels",
    "platform_name",
]

Lang = Literal["en", "id"]

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Weekly report",
        "week": "Week",
        "period": "Period",
        "generated": "Generated",
        "time_zone": "Time zone",
        "summary": "Summary",
        "posts_published": "Posts published",
        "engagement_total": "Engagement",
        "views_reported": "Views (where reported)",
        "channels_active": "Channels active",
        "on_time_rate": "On-time rate",
        "no_change": "no change",
        "previous_same_time": "Previous week up to the same time",
        "partial_week": "Partial week: figures up to {as_of}; the week is not over.",
        "partial": "Partial week",
        "per_platform": "Engagement per platform",
        "per_channel": "Engagement per channel",
        "platform": "Platform",
        "channel": "Channel",
        "posts": "Posts",
        "engagement": "Engagement",
        "views": "Views",
        "reach": "Reach",
        "likes": "Likes",
        "reposts": "Reposts",
        "replies": "Replies",
        "quotes": "Quotes",
        "bookmarks": "Bookmarks",
        "shares": "Shares",
        "link_clicks": "Link clicks",
        "by_day": "Engagement by day of publication",
        "day": "Day",
        "top_posts": "Top posts",
        "text": "Text",
        "link": "Link",
        "open_post": "open post",
        "published_at": "Published",
        "releases": "Each release's reach across channels",
        "release": "Release",
        "channels": "Channels",
        "reliability": "Publishing reliability",
        "on_time": "On time",
        "late": "Late",
        "retried": "Retried",
        "failed": "Failed",
        "needs_review": "Needs review",
        "reasons": "Reasons",
        "reason": "Reason",
        "count": "Count",
        "no_reason": "(no reason recorded)",
        "not_reported": "not reported by the platform",
        "no_snapshot": "no snapshot yet",
        "no_figures": "no engagement figures yet",
        "nothing": "Nothing this week.",
        "top_none_yet": "{posts} posts went out this week; none has engagement figures yet "
        "(no snapshot yet, or the platform does not report them).",
        "top_none_yet_one": "1 post went out this week; it has no engagement figures yet "
        "(no snapshot yet, or the platform does not report them).",
        "thread_parts": "thread, {parts} parts",
        "parts": "Parts",
        "definitions": "How these numbers are made",
        "def_week": "Posts of the week: posts published from Monday 00:00 to Sunday 24:00 "
        "in the time zone above.",
        "def_engagement": "Engagement of a post: likes, reposts, replies, quotes, bookmarks, "
        "shares and link clicks (those the platform reports) in its latest snapshot taken at "
        "or before the end of the week. Views and reach are shown apart.",
        "def_not_reported": "A dash (–) or “not reported by the platform” marks a figure the "
        "platform does not give; “no snapshot yet” marks posts whose figures have not been "
        "read yet. Neither is ever counted as zero.",
        "def_thread": "A thread counts as one post: its engagement is the sum over its parts, "
        "its views and reach are those of its most-seen part.",
        "def_on_time": "On time: published at most {minutes} minutes after the planned time.",
        "summary_sheet": "Summary",
        "figure": "Figure",
        "this_week": "This week",
        "previous_week": "Previous week",
        "post_id": "Post",
        "snapshot_at": "Snapshot",
        "attempts": "Attempts",
        "timing": "When your audience engages",
        "timing_intro": "Each square is a time of the week, in the channel's local time: "
        "how much more (green) or less (red) engagement its posts got than the channel's "
        "usual post, and how many posts that rests on. Engagement is counted one day after "
        "publishing, per view where the platform reports views; posts of the last {days} "
        "days. A time with few posts leans on similar channels (same platform and region).",
        "timing_windows": "Dotted squares lie outside the channel's posting windows: only a "
        "time inside them is ever recommended.",
        "timing_groups": "{channels} channels: shown by platform and region, in each "
        "channel's local time. A square's change is the average over the group's channels, "
        "weighted by their posts.",
        "timing_chart": "{name}: engagement by time of the week",
        "weekday": "Weekday",
        "weekend": "Weekend",
        "best_time": "Best time",
        "best": "best",
        "n_posts": "{n} posts",
        "one_post": "1 post",
        "no_posts": "no posts",
        "n_measured": "{n} posts measured",
        "one_measured": "1 post measured",
        "none_measured": "no post measured yet",
        "not_enough_data": "Not enough data yet",
        "timing_thin": "{posts} measured posts so far, {needed} are needed before a time is "
        "recommended; the posting windows stand.",
        "timing_none": "no post measured yet, {needed} are needed before a time is "
        "recommended; the posting windows stand.",
        "timing_thin_group": "{posts} measured posts over {channels} channels so far, each "
        "channel needs {needed} before a time is recommended; the posting windows stand.",
        "timing_unclear": "no time is clearly better yet (at least {lift} with {probability} "
        "certainty); the posting windows stand.",
        "group_best": "best for {n} of {m} channels",
        "group": "Group",
        "slot": "Time",
        "lift": "Change",
        "lift_low": "Change, low end (90%)",
        "lift_high": "Change, high end (90%)",
        "no_channels": "No channels yet.",
        "likely_between": "likely between {low} and {high}",
        "mon": "Mon",
        "tue": "Tue",
        "wed": "Wed",
        "thu": "Thu",
        "fri": "Fri",
        "sat": "Sat",
        "sun": "Sun",
        "feeds": "Feeds: what became of each item",
        "feeds_intro": "Every decision taken on a feed's items this week. New and backfilled "
        "items became releases; items seen on a feed's first run, too old, or over the hourly "
        "cap were recorded and not posted; a duplicate is a story already known (another "
        "guid, link or feed); an updated item changed posts that had not gone out yet.",
        "feed": "Feed",
        "feed_new": "New",
        "feed_backfill": "Backfilled",
        "feed_seen": "Seen on first run",
        "feed_updated": "Updated",
        "feed_duplicate": "Duplicate",
        "feed_too_old": "Too old",
        "feed_over_cap": "Over the cap",
        "feed_invalid": "Invalid",
        "feed_total": "All decisions",
    },
    "id": {
        "title": "Laporan mingguan",
        "week": "Minggu",
        "period": "Periode",
        "generated": "Dibuat",
        "time_zone": "Zona waktu",
        "summary": "Ringkasan",
        "posts_published": "Unggahan terbit",
        "engagement_total": "Interaksi",
        "views_reported": "Tayangan (jika dilaporkan)",
        "channels_active": "Kanal aktif",
        "on_time_rate": "Tingkat tepat waktu",
        "no_change": "tidak berubah",
        "previous_same_time": "Minggu lalu sampai waktu yang sama",
        "partial_week": "Minggu belum lengkap: angka sampai {as_of}; minggu ini belum selesai.",
        "partial": "Minggu belum lengkap",
        "per_platform": "Interaksi per platform",
        "per_channel": "Interaksi per kanal",
        "platform": "Platform",
        "channel": "Kanal",
        "posts": "Unggahan",
        "engagement": "Interaksi",
        "views": "Tayangan",
        "reach": "Jangkauan",
        "likes": "Suka",
        "reposts": "Unggah ulang",
        "replies": "Balasan",
        "quotes": "Kutipan",
        "bookmarks": "Markah",
        "shares": "Dibagikan",
        "link_clicks": "Klik tautan",
        "by_day": "Interaksi menurut hari terbit",
        "day": "Hari",
        "top_posts": "Unggahan teratas",
        "text": "Teks",
        "link": "Tautan",
        "open_post": "buka unggahan",
        "published_at": "Terbit",
        "releases": "Jangkauan setiap rilis di semua kanal",
        "release": "Rilis",
        "channels": "Kanal",
        "reliability": "Keandalan penerbitan",
        "on_time": "Tepat waktu",
        "late": "Terlambat",
        "retried": "Dicoba ulang",
        "failed": "Gagal",
        "needs_review": "Perlu ditinjau",
        "reasons": "Penyebab",
        "reason": "Penyebab",
        "count": "Jumlah",
        "no_reason": "(penyebab tidak tercatat)",
        "not_reported": "tidak dilaporkan oleh platform",
        "no_snapshot": "belum ada cuplikan",
        "no_figures": "belum ada angka interaksi",
        "nothing": "Tidak ada minggu ini.",
        "top_none_yet": "{posts} unggahan terbit minggu ini; belum ada yang memiliki angka "
        "interaksi (belum ada cuplikan, atau platform tidak melaporkannya).",
        "top_none_yet_one": "1 unggahan terbit minggu ini; belum memiliki angka interaksi "
        "(belum ada cuplikan, atau platform tidak melaporkannya).",
        "thread_parts": "utas, {parts} bagian",
        "parts": "Bagian",
        "definitions": "Cara angka-angka ini dihitung",
        "def_week": "Unggahan minggu ini: unggahan yang terbit dari Senin 00.00 sampai Minggu "
        "24.00 pada zona waktu di atas.",
        "def_engagement": "Interaksi sebuah unggahan: suka, unggah ulang, balasan, kutipan, "
        "markah, dibagikan dan klik tautan (yang dilaporkan platform) pada cuplikan terakhir "
        "yang diambil paling lambat pada akhir minggu. Tayangan dan jangkauan ditampilkan "
        "terpisah.",
        "def_not_reported": "Tanda pisah (–) atau “tidak dilaporkan oleh platform” menandai "
        "angka yang tidak diberikan platform; “belum ada cuplikan” menandai unggahan yang "
        "angkanya belum dibaca. Keduanya tidak pernah dihitung sebagai nol.",
        "def_thread": "Sebuah utas dihitung sebagai satu unggahan: interaksinya adalah jumlah "
        "dari semua bagiannya, tayangan dan jangkauannya dari bagian yang paling banyak "
        "dilihat.",
        "def_on_time": "Tepat waktu: terbit paling lambat {minutes} menit setelah waktu yang "
        "direncanakan.",
        "summary_sheet": "Ringkasan",
        "figure": "Angka",
        "this_week": "Minggu ini",
        "previous_week": "Minggu lalu",
        "post_id": "Unggahan",
        "snapshot_at": "Cuplikan",
        "attempts": "Percobaan",
        "timing": "Kapan audiens Anda berinteraksi",
        "timing_intro": "Setiap kotak adalah satu waktu dalam seminggu, menurut waktu setempat "
        "kanal: seberapa besar interaksi unggahannya di atas (hijau) atau di bawah (merah) "
        "unggahan biasa kanal itu, dan berapa unggahan yang menjadi dasarnya. Interaksi "
        "dihitung satu hari setelah terbit, per tayangan jika platform melaporkan tayangan; "
        "unggahan {days} hari terakhir. Waktu dengan sedikit unggahan bersandar pada kanal "
        "serupa (platform dan wilayah yang sama).",
        "timing_windows": "Kotak bergaris titik berada di luar jendela unggah kanal: hanya "
        "waktu di dalamnya yang pernah disarankan.",
        "timing_groups": "{channels} kanal: ditampilkan per platform dan wilayah, menurut waktu "
        "setempat setiap kanal. Perubahan pada sebuah kotak adalah rata-rata kanal dalam "
        "kelompok itu, ditimbang menurut jumlah unggahannya.",
        "timing_chart": "{name}: interaksi menurut waktu dalam seminggu",
        "weekday": "Hari kerja",
        "weekend": "Akhir pekan",
        "best_time": "Waktu terbaik",
        "best": "terbaik",
        "n_posts": "{n} unggahan",
        "one_post": "1 unggahan",
        "no_posts": "belum ada unggahan",
        "n_measured": "{n} unggahan terukur",
        "one_measured": "1 unggahan terukur",
        "none_measured": "belum ada unggahan terukur",
        "not_enough_data": "Belum cukup data",
        "timing_thin": "baru {posts} unggahan terukur, perlu {needed} sebelum sebuah waktu "
        "disarankan; jendela unggah yang diatur tetap berlaku.",
        "timing_none": "belum ada unggahan terukur, perlu {needed} sebelum sebuah waktu "
        "disarankan; jendela unggah yang diatur tetap berlaku.",
        "timing_thin_group": "baru {posts} unggahan terukur dari {channels} kanal, setiap kanal "
        "perlu {needed} sebelum sebuah waktu disarankan; jendela unggah yang diatur tetap "
        "berlaku.",
        "timing_unclear": "belum ada waktu yang jelas lebih baik (setidaknya {lift} dengan "
        "keyakinan {probability}); jendela unggah yang diatur tetap berlaku.",
        "group_best": "terbaik untuk {n} dari {m} kanal",
        "group": "Kelompok",
        "slot": "Waktu",
        "lift": "Perubahan",
        "lift_low": "Perubahan, batas bawah (90%)",
        "lift_high": "Perubahan, batas atas (90%)",
        "no_channels": "Belum ada kanal.",
        "likely_between": "kemungkinan antara {low} dan {high}",
        "mon": "Sen",
        "tue": "Sel",
        "wed": "Rab",
        "thu": "Kam",
        "fri": "Jum",
        "sat": "Sab",
        "sun": "Min",
        "feeds": "Umpan: nasib setiap butir",
        "feeds_intro": "Setiap keputusan atas butir umpan minggu ini. Butir baru dan butir "
        "susulan menjadi rilis; butir yang tercatat pada pembacaan pertama umpan, terlalu "
        "lama, atau melebihi batas per jam dicatat dan tidak diunggah; duplikat adalah berita "
        "yang sudah dikenal (guid, tautan atau umpan lain); butir yang diperbarui mengubah "
        "unggahan yang belum terbit.",
        "feed": "Umpan",
        "feed_new": "Baru",
        "feed_backfill": "Susulan",
        "feed_seen": "Tercatat pada pembacaan pertama",
        "feed_updated": "Diperbarui",
        "feed_duplicate": "Duplikat",
        "feed_too_old": "Terlalu lama",
        "feed_over_cap": "Melebihi batas",
        "feed_invalid": "Tidak valid",
        "feed_total": "Semua keputusan",
    },
}

WEEKDAY_KEYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def platform_name(platform: str) -> str:
    """``"linkedin"`` -> ``"LinkedIn"`` (the declared ``display_name``); an unknown id is
    capitalised."""
    traits = find_traits(platform)
    return traits.display_name if traits is not None else platform[:1].upper() + platform[1:]


def labels(lang: str) -> Mapping[str, str]:
    """The labels of ``lang`` ("en" or "id"); raises ``ValueError`` for another language."""
    if lang not in LABELS:
        raise ValueError(f"unknown report language {lang!r}; use one of {', '.join(LABELS)}")
    return LABELS[lang]


def _group(digits: str, sep: str) -> str:
    out: list[str] = []
    while len(digits) > 3:
        out.insert(0, digits[-3:])
        digits = digits[:-3]
    out.insert(0, digits)
    return sep.join(out)


def fmt_int(value: int, lang: str) -> str:
    """``12,345`` (en) or ``12.345`` (id); negative numbers keep their sign."""
    sign = "-" if value < 0 else ""
    return sign + _group(str(abs(value)), "." if lang == "id" else ",")


def fmt_pct(ratio: float, lang: str, digits: int = 1) -> str:
    """A ratio as a percentage: 0.945 -> ``94.5%`` (en) or ``94,5%`` (id)."""
    text = f"{ratio * 100:.{digits}f}"
    return (text.replace(".", ",") if lang == "id" else text) + "%"


def fmt_change(current: float | None, previous: float | None, lang: str) -> str:
    """Week-over-week change: ``+12.5%``, ``-3.0%``, ``no change``; ``""`` when unknown or
    when the previous week had nothing to compare with."""
    if current is None or previous is None:
        return ""
    if current == previous:
        return labels(lang)["no_change"]
    if previous == 0:
        return ""
    ratio = (current - previous) / abs(previous)
    return ("+" if ratio > 0 else "") + fmt_pct(ratio, lang)


def fmt_compare(previous_label: str, previous_text: str, change: str) -> str:
    """The line under a figure: ``Previous week: 1 (+400.0%)``, ``Previous week: 0``. The
    previous value is always named, so a bare ``0`` is never a change of zero."""
    return f"{previous_label}: {previous_text}" + (f" ({change})" if change else "")
