"""The evaluation harness: a seeded labelled stream, scored end to end (quick mode)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "eval"))

from generator import Config, generate  # noqa: E402
from score import score  # noqa: E402


def test_generator_is_seeded_and_labels_every_campaign(tmp_path: Path) -> None:
    config = Config(channels=30, days=20, seed=5)
    one = generate(config, tmp_path / "one.jsonl")
    two = generate(config, tmp_path / "two.jsonl")
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    assert one["posts"] == two["posts"] > 1000
    kinds = {c["kind"] for c in one["campaigns"]}
    assert "single" in kinds and kinds <= {"coordinated", "forwarded", "cascade", "single"} and len(kinds) >= 2
    assert set(one["negatives"].values()) == {"evergreen", "rubric", "one-off", "news", "series"}
    first = json.loads((tmp_path / "one.jsonl").read_text().splitlines()[0])
    assert {"channel", "date", "hashtags", "forwarded_from", "fingerprint"} <= set(first)


def test_score_counts_recall_precision_and_delay() -> None:
    labels = {
        "campaigns": [
            {"tags": ["camp"], "kind": "single", "start": 0.0, "channels": ["a"], "scored": True},
            {"tags": ["missed"], "kind": "single", "start": 0.0, "channels": ["a"], "scored": True},
        ],
        "negatives": {"storm": "news"},
    }
    alerts = [
        {"tag": "Camp", "tags": ["Camp"], "tier": "T2", "alerted_at": "1970-01-03T00:00:00+00:00"},
        {"tag": "Storm", "tags": ["Storm"], "tier": "T1", "alerted_at": "1970-01-01T01:00:00+00:00"},
        {"tag": "Evergreen", "tags": ["Evergreen"], "tier": "T3", "alerted_at": "1970-01-01T01:00:00+00:00"},
    ]
    result = score(labels, alerts, days_scored=10)
    assert result["rows"]["single"]["recall"] == 0.5
    assert result["rows"]["single"]["median_delay_h"] == 48.0
    assert result["precision"] == 0.5 and result["false_positives"] == {"news": 1}
    assert result["false_alarms_per_day"] == 0.1 and result["alerts_by_tier"] == {"T2": 1, "T1": 1, "T3": 1}


@pytest.mark.slow
def test_quick_evaluation_meets_the_targets() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "eval" / "run.py"), "--quick", "--direct", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    found, null = result["campaigns"], result["null"]
    assert found["rows"]["all"]["campaigns"] >= 6
    assert found["rows"]["all"]["recall"] >= 0.95 and found["precision"] >= 0.95
    assert found["rows"]["network, first launch"]["median_delay_h"] <= 48.0
    repeat = found["rows"]["network, repeat launch"]
    assert repeat["campaigns"] == 0 or repeat["median_delay_h"] <= 1.0
    assert null["false_alarms_per_day"] <= 0.1


def test_real_evaluation_is_skipped_with_a_message_when_the_stream_is_absent(tmp_path: Path) -> None:
    import run

    lines = run.run_real(tmp_path / "absent" / "posts.jsonl.gz", tmp_path)
    assert len(lines) == 1 and lines[0].startswith("Real stream skipped:")


def test_real_scoring_reads_labels_and_documented_campaigns(tmp_path: Path) -> None:
    import real

    labels = tmp_path / "labels.csv"
    labels.write_text(
        "dataset,tier,tag,first_seen,alerted_at,channels,posts,forwards,label,note\n"
        "x,T2,Push,2023-03-30T18:31,2023-04-02T10:00,1,9,0,campaign,pushed daily\n"
        "x,T2,Quake,2023-05-01T00:00,2023-05-03T00:00,4,9,0,news event,an earthquake\n",
        encoding="utf-8",
    )
    documented = tmp_path / "known.csv"
    documented.write_text(
        "dataset,campaign,spellings,first_use,period,channels,kind,note\n"
        "x,Push,push|thepush,2023-03-30T18:31,dev,1,single_source,\n"
        "x,Other,other,2023-06-01T00:00,dev,3,network_forwards,\n",
        encoding="utf-8",
    )

    def alert(tag: str, first: str, at: str) -> dict:  # type: ignore[type-arg]
        return {
            "tag": tag,
            "tags": [tag],
            "tier": "T2",
            "first_seen": first,
            "alerted_at": at,
            "channels": ["a"],
            "posts": 9,
            "forwards": 0,
        }

    found = [
        alert("Push", "2023-03-30T18:31:00+00:00", "2023-04-01T18:31:00+00:00"),
        alert("Quake", "2023-05-01T00:00:00+00:00", "2023-05-03T00:00:00+00:00"),
        alert("Unread", "2023-05-09T00:00:00+00:00", "2023-05-11T00:00:00+00:00"),
    ]
    week = 7 * 86400.0
    result = real.score(found, real.load_labels(labels), real.load_campaigns(documented), (0.0, 10 * week))
    assert result["precision"] == 1 / 3 and result["recall"] == 0.5
    assert result["median_delay_h"] == 48.0 and result["alerts_per_week"] == 0.3
    assert result["labels"] == {"campaign": 1, "news event": 1, "unlabelled": 1}
    assert [a["tag"] for a in result["unlabelled"]] == ["Unread"]


def test_planted_pushes_follow_the_streams_own_forwarding() -> None:
    import real
    from campaign_support import post

    hours = 800 * 24  # a stream over 800 days: the plants fall in its last two years
    posts = [post(h, "quiet", "news", mid=h + 1) for h in range(0, hours, 24)]
    for d in range(0, 800, 2):  # b, c and d forward the hub's posts; e forwards another origin
        posts += [post(d * 24 + 1 + i / 10, ch, forward_of="hub", fwd_mid=d + 1) for i, ch in enumerate("bcd")]
        posts.append(post(d * 24 + 2, "e", forward_of="elsewhere", fwd_mid=d + 1))
    merged, planted = real.plant(posts)
    assert len(planted) == real.PLANTS
    assert all(p["origin"] == "hub" and set(p["forwarders"]) == {"b", "c", "d"} for p in planted)
    added = [p for p in merged if p.hashtags and p.hashtags[0].startswith("Planted")]
    assert len(added) == 3 * real.PLANTS and all(p.forwarded_from and p.forwarded_from.channel == "hub" for p in added)
    assert [p.date for p in merged] == sorted(p.date for p in merged)
