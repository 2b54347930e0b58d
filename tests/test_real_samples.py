"""The real samples in ../shared/formats/real/ read as a person reads them.

Every expected value here was read off the files by hand (grep and a text
editor: ids, date titles, dividers, forward headers, view counts, hashtags),
not taken from feedwatch's output. The tests skip where ../shared is absent.
"""

from __future__ import annotations

import gzip
import re
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from feedwatch.models import ForwardedFrom, Link, Media, Post
from feedwatch.parse import Options, expand, parse_path


def real(formats_dir: Path, name: str) -> Path:
    return formats_dir / "real" / name


def posts_of(path: Path, options: Options | None = None) -> list[Post]:
    return [post for each in expand([str(path)]) for post in parse_path(each, "auto", options or Options())]


def by_id(posts: list[Post]) -> dict[int | None, Post]:
    return {p.message_id: p for p in posts}


# Desktop HTML export, 2019-2022, date titles without a zone, its first page renamed index.html.


def test_android_sec_reads_the_renamed_first_page_too(formats_dir: Path) -> None:
    posts = posts_of(real(formats_dir, "tgh_android_sec_2019"))
    assert len(posts) == 1471  # 998 + 2 service messages in index.html, 471 in messages2.html
    assert Counter(Path(p.source.path or "").name for p in posts) == {"index.html": 1000, "messages2.html": 471}
    ids = [p.message_id for p in posts]
    assert ids[0] == 1 and ids[-1] == 1479 and ids == sorted(ids) and len(set(ids)) == 1471


def test_android_sec_forwards_name_their_source_without_its_date(formats_dir: Path) -> None:
    posts = posts_of(real(formats_dir, "tgh_android_sec_2019"))
    sources = Counter(p.forwarded_from.name for p in posts if p.forwarded_from)
    assert sources == {"The Bug Bounty Hunter": 59, "fs0c131y - Official Channel": 3}
    first = by_id(posts)[48]
    assert first.forwarded_from == ForwardedFrom("The Bug Bounty Hunter")
    assert first.date == datetime(2019, 5, 13, 5, 36, 44, tzinfo=UTC)  # "13.05.2019 05:36:44", read as UTC
    assert first.text.startswith("Pentesting Android applications by reversing and finding attack surfaces\nhttps://")


def test_android_sec_posts_read_as_shown(formats_dir: Path) -> None:
    options = Options(tz=timezone(timedelta(hours=2)))
    found = by_id(posts_of(real(formats_dir, "tgh_android_sec_2019"), options))
    recap = found[3]
    assert recap.date == datetime(2019, 5, 2, 8, 35, 30, tzinfo=UTC)  # 10:35:30 at UTC+02:00
    assert recap.title == "Android Security Monthly Recap #4"
    assert recap.text.split("\n")[:4] == [
        "Android Security Monthly Recap #4",
        "",
        "-Xiaomi vulnerabilities",
        "-insecure financial apps",
    ]
    assert recap.hashtags == ()  # "#4" is a number, not a tag
    ctf = found[50]
    assert ctf.hashtags == ("Android", "CTF", "Writeup", "Frida")
    assert ctf.text == (
        "DEF CON Quals 2019 : VERYANDROIDOSO\n#Android #CTF #Writeup #Frida\n"
        "https://eybisi.run/DEF-CON-Quals-2019-Veryandroidoso/"
    )
    last = found[1479]
    assert last.title == "Frida iOS video tutorials" and last.date == datetime(2022, 3, 18, 15, 31, 21, tzinfo=UTC)
    assert [link.url for link in last.links] == [
        "https://youtu.be/h070-YZKOKE",
        "https://youtu.be/qpEIRe2CP-w",
        "https://youtu.be/x48y2ehfWGE",
    ]


def test_android_sec_service_messages_take_the_day_of_their_divider(formats_dir: Path) -> None:
    options = Options(tz=timezone(timedelta(hours=2)))
    found = by_id(posts_of(real(formats_dir, "tgh_android_sec_2019"), options))
    created, photo = found[1], found[2]  # under the divider "2 May 2019"
    assert (created.kind, created.service, photo.service) == ("service", "create_channel", "edit_group_photo")
    assert created.date == photo.date == datetime(2019, 5, 1, 22, 0, tzinfo=UTC)  # the day's start at UTC+02:00
    assert "date" in created.approximate and "date" not in found[3].approximate


def test_a_renamed_or_compressed_page_is_read_and_a_stray_file_named(formats_dir: Path, tmp_path: Path) -> None:
    source = real(formats_dir, "tgh_android_sec_2019")
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(source / "index.html", folder / "zz_first.htm")  # names that sort the wrong way round
    with gzip.open(folder / "aa_second.html.gz", "wb") as out:
        out.write((source / "messages2.html").read_bytes())
    (folder / "notes.txt").write_text("what I exported and when\n", encoding="utf-8")
    options = Options()
    assert list(expand([str(tmp_path)])) == [str(folder)]
    posts = posts_of(folder, options)
    ids = [p.message_id for p in posts]
    assert len(ids) == 1471 and ids == sorted(ids)  # pages in the order of their messages, not of their names
    assert (
        f"{folder}: not read, not pages of the export: notes.txt (give a file on its own to read it)" in options.notes
    )


# Desktop HTML export, 2017-2026, UTC+01:00, three pages.


def test_fin_capital_counts_and_forwards(formats_dir: Path) -> None:
    posts = posts_of(real(formats_dir, "tgh_fin_capital_ru"))
    assert len(posts) == 2115 and all(p.date is not None for p in posts)
    sources = Counter(p.forwarded_from.name for p in posts if p.forwarded_from)
    assert sum(sources.values()) == 39 and len(sources) == 18
    assert sources["РАНТЬЕ"] == 8 and sources["PRObonds | Иволга Капитал"] == 4 and sources["Deleted Account"] == 1


def test_fin_capital_location_link_text_stays(formats_dir: Path) -> None:
    post = by_id(posts_of(real(formats_dir, "tgh_fin_capital_ru")))[2506]
    assert post.date == datetime(2026, 3, 6, 12, 40, 51, tzinfo=UTC)  # 13:40:51 UTC+01:00
    assert "📍 The Pool Marbella\nСмотреть на карте\n\nТемы для обсуждения:" in post.text
    assert Link("Смотреть на карте", "https://maps.app.goo.gl/eoBbh3N9E6zZpmE89?g_st=ic") in post.links
    assert post.hashtags == ("партнерскийпост",) and post.title == "Raison Wealth Club Networking — Марбейя"


def test_fin_capital_posts_polls_and_service_days(formats_dir: Path) -> None:
    found = by_id(posts_of(real(formats_dir, "tgh_fin_capital_ru")))
    assert found[21].date == datetime(2017, 4, 17, 6, 43, 27, tzinfo=UTC)
    assert found[21].hashtags == ("капитал", "инвестиций")
    assert "инвестировать #капитал в хедж-фонды" in found[21].text  # two spaces in the markup, one on screen
    poll = found[1318].poll
    assert found[1318].forwarded_from == ForwardedFrom("bitkogan")
    assert poll is not None and poll.closed and poll.total_voters == 19020
    assert [(a.text, a.voters) for a in poll.answers[:3]] == [("Выше 6%", 1401), ("6.0%", 1655), ("5.5%", 1133)]
    days = {1: (2017, 4, 4), 277: (2018, 2, 3), 758: (2019, 1, 2), 2167: (2023, 8, 29)}
    for message_id, (year, month, day) in days.items():
        service = found[message_id]
        assert service.kind == "service" and "date" in service.approximate
        assert service.date == datetime(year, month, day, tzinfo=timezone(timedelta(hours=1)))
    assert found[277].service == "pin_message" and found[277].reply_to == 233


# t.me/s page re-indented by an editor.


TOPWAR_IDS = [70989, 70990, 70992, 70995, 70996, 70997, 70998, 70999, 71000, 71006, 71007, 71008]


def test_topwar_page_ids_dates_views_forwards_and_text_without_the_editors_indentation(formats_dir: Path) -> None:
    posts = posts_of(real(formats_dir, "tme_topwar_2023"))
    assert [p.message_id for p in posts] == TOPWAR_IDS and {p.channel for p in posts} == {"topwar_official"}
    assert posts[0].date == datetime(2023, 2, 28, 7, 47, 53, tzinfo=UTC)
    assert posts[-1].date == datetime(2023, 2, 28, 13, 14, 3, tzinfo=UTC)
    assert [p.views for p in posts[:3]] == [37200, 34500, 33800] and "views" in posts[0].approximate
    forwards = {p.message_id: (p.forwarded_from.name, p.forwarded_from.url) for p in posts if p.forwarded_from}
    assert forwards == {
        70996: ("Военкор Ярем", "https://t.me/yaremshooter/1066"),
        70998: ("БелВПО", "https://t.me/Belarus_VPO/34301"),
        71006: ("Старше Эдды", "https://t.me/vysokygovorit/10899"),
        71007: (forwards[71007][0], "https://t.me/dimsmirnov175/44655"),
        71008: ("ImpNavigator", "https://t.me/ImpNavigator/4580"),
    }
    found = by_id(posts)
    assert found[70989].text == (
        "В Санкт-Петербурге в небо над городом подняли истребители из-за неизвестного объекта в воздухе, "
        "аэропорт Пулково не принимает самолеты, сообщает Baza.\n"
        "Судя по сервису Flightradar, гражданские самолеты не приближаются к Санкт-Петербургу."
    )
    assert found[70992].text.startswith("Сегодня ночью в Республике Адыгея упал неизвестный летательный аппарат")
    assert Link("на расстояние 180 метров", "https://t.me/infantmilitario/93419") in found[70996].links
    assert not any(re.search(r"  |\n | \n", p.text) for p in found.values())


def _reindent(html: str) -> str:
    """What an editor's re-wrapping does: every space in text becomes a newline and an indentation."""
    return re.sub(r">([^<]+)<", lambda m: ">" + m.group(1).replace(" ", "\n                        ") + "<", html)


@pytest.mark.parametrize("name", ["tme_s_durov.html", "tme_s_tginfouk.html"])
def test_a_reindented_page_gives_the_same_posts(formats_dir: Path, tmp_path: Path, name: str) -> None:
    original = formats_dir / name
    copy = tmp_path / name
    copy.write_text(_reindent(original.read_text(encoding="utf-8")), encoding="utf-8")
    before, after = posts_of(original), posts_of(copy)
    assert [(p.message_id, p.text, p.links, p.hashtags, p.fingerprint) for p in after] == [
        (p.message_id, p.text, p.links, p.hashtags, p.fingerprint) for p in before
    ]


# Single t.me/s message fragments.


def test_any2feed_fragments(formats_dir: Path) -> None:
    posts = {Path(p.source.path or "").stem: p for p in posts_of(real(formats_dir, "tme_any2feed_fragments"))}
    assert len(posts) == 8
    voice = posts["message_voice"]
    assert (voice.channel, voice.message_id, voice.views) == ("oper_goblin", 939, 746)
    assert voice.date == datetime(2018, 4, 24, 15, 28, 46, tzinfo=UTC)
    assert voice.forwarded_from == ForwardedFrom("Спортивный Екб") and voice.media[0].type == "voice"
    assert voice.text == (
        "Обсудили:\n\n- Сталина не забыть\n- Плохие фильмы\n- Смешные переводы\n"
        "можно, матерные - нет\n\nСлушайте: @kakberadio\nПишите нам: @kakberadiobot"
    )
    assert voice.mentions == ("kakberadio", "kakberadiobot")
    forward = posts["message_media_forwarded_from"]
    assert forward.forwarded_from is not None and forward.forwarded_from.name == "Пул N3"
    assert forward.text == "Британская разведка выяснила, почему Ким Чен Ын начал выводить дочку в свет"
    assert (forward.forwarded_from.channel, forward.forwarded_from.message_id) == ("dimsmirnov175", 44604)
    album = posts["message_media_photo_and_video"]
    assert album.album == (46908, 46909, 46910) and album.hashtags == ("Белгород", "Беспилотники")
    assert album.views == 59500 and album.text.endswith("из пластида.\n\n#Белгород #Беспилотники\n\n@anna_news")
    poll = posts["message_poll"].poll
    assert poll is not None and poll.question == "Как лучше?"
    assert [a.text for a in poll.answers] == [
        "Несколько постов в день",
        "Один пост в несколько дней",
        "Свой вариант в комментарии",
    ]
    assert posts["message_with_from_author"].author == "🅰️rkadiy Ivanov"
    assert posts["message_sticker"].media[0].type == "sticker"
    assert posts["message_media_round_video"].media[0].type == "round_video"
    assert posts["message_link_preview"].views == 226200


# Desktop JSON exports of a public supergroup.


def test_tgif_json_exports(formats_dir: Path) -> None:
    testing = posts_of(real(formats_dir, "tgj_tgif_software_testing"))
    assert len(testing) == 197 and len({p.message_id for p in testing}) == 197
    first = testing[0]
    assert (first.message_id, first.author) == (242640, "Reinaldy")
    assert first.date == datetime(2023, 1, 20, 12, 5, 9, tzinfo=UTC)  # date_unixtime 1674216309
    assert first.channel_title == "Teknologi Umum v2.0" and first.channel_id == 1712691810
    speak = by_id(posts_of(real(formats_dir, "tgj_tgif_corporate_speak")))
    assert len(speak) == 155
    deleted = speak[10821]  # "from": null, an account since deleted
    assert deleted.author is None and deleted.edited and deleted.edit_date == datetime(2022, 6, 5, 9, 2, 30, tzinfo=UTC)
    gif = speak[10906]
    assert (gif.author, gif.reply_to, gif.media) == (
        "Albilaga",
        10896,
        (Media("animation", None, "video_files/kiki-kikicat.mp4"),),
    )


# Text copied out of Telegram Desktop.


PASTE_TIMES = [
    "07:25",
    "07:51",
    "07:53",
    "07:54",
    "07:58",
    "07:59",
    "07:59",
    "08:08",
    "08:14",
    "08:14",
    "08:14",
    "08:15",
    "08:15",
    "08:15",
    "08:16",
    "08:17",
    "08:20",
    "08:20",
]


def test_desktop_paste_gives_18_posts_with_authors_and_times(formats_dir: Path) -> None:
    options = Options(tz=timezone(timedelta(hours=7)))
    posts = posts_of(real(formats_dir, "dump_tgif_paste_2022"), options)
    assert len(posts) == 18 and {p.source.format for p in posts} == {"desktop-paste"}
    assert Counter(p.author for p in posts) == {"Ronny Gunawan": 16, "dicha?": 1, "Cinammon": 1}
    local = timezone(timedelta(hours=7))
    assert [p.date.astimezone(local).strftime("%d/%m/%Y %H:%M") for p in posts if p.date] == [
        f"25/06/2022 {t}" for t in PASTE_TIMES
    ]
    assert posts[0].text == "https://youtu.be/TbP2B1ijWr8" and posts[0].date == datetime(2022, 6, 25, 0, 25, tzinfo=UTC)
    assert posts[10].author == "Cinammon" and posts[10].text == "wah kok lebih simpel code C ya kak?"
    code = posts[4].text
    assert code.startswith("mari kita coba. kalian lebih prefer nulis yang mana?\n\ncode A:\n\ninterface User {")
    assert "  constructor(id: number, name: string, email: string) {\n    this.#id = id;" in code
    assert any("copied message times carry no time zone; read as UTC+07:00" in note for note in options.notes)
