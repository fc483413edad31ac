"""The benchmark harness (bench/common.py, bench/__main__.py) and the raw FIX test helper."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import __main__ as runner
from bench.baselines import socket_echo_rtt
from bench.common import LatencyStats, Report, Throughput, load_results, percentile, write_plots
from tests.support.raw_fix import checksum, frame, split_messages

# A Logon(35=A) exactly as QuickFIX 1.16 wrote it (the simulator's message log, SOH shown as |).
QUICKFIX_LOGON = (
    "8=FIX.4.4|9=74|35=A|34=1|49=FIXSIM|52=20261129-21:14:36.473|56=CLIENT1|98=0|108=30|141=Y|10=244|"
)


def test_percentile_interpolates_between_ranks() -> None:
    values = [10, 20, 30, 40, 50]

    assert percentile(values, 0) == 10
    assert percentile(values, 50) == 30
    assert percentile(values, 100) == 50
    assert percentile(values, 90) == pytest.approx(46.0)
    assert percentile([7], 99.9) == 7


@pytest.mark.parametrize("pct", [-1, 100.5])
def test_percentile_outside_0_to_100_is_refused(pct: float) -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        percentile([1, 2], pct)


def test_percentile_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)


def test_latency_stats_are_in_microseconds_from_nanosecond_samples() -> None:
    samples_ns = [1_000 * value for value in range(1, 1001)]  # 1..1000 us, shuffled order below

    stats = LatencyStats.from_samples_ns("x", reversed(samples_ns))

    assert stats.count == 1000
    assert (stats.min_us, stats.max_us) == (1.0, 1000.0)
    assert stats.p50_us == pytest.approx(500.5)
    assert stats.p99_us == pytest.approx(990.01)
    assert stats.p999_us == pytest.approx(999.001)
    assert stats.cdf_us[0] == 1.0 and stats.cdf_us[-1] == 1000.0


def test_report_rows_carry_the_ratio_to_each_baseline(tmp_path: Path) -> None:
    fast = LatencyStats.from_samples_ns("fast", [1_000] * 10)
    slow = LatencyStats.from_samples_ns("slow", [4_000] * 10)
    report = Report("unit", results_dir=tmp_path)

    report.add_latency(slow, baselines=[fast])
    report.add_throughput(
        Throughput(name="more", operations=300, elapsed_ns=10**9),
        baseline=Throughput(name="less", operations=100, elapsed_ns=10**9),
    )

    ratios = {(row.name, row.baseline): row.ratio for row in report.rows}
    assert ratios[("slow p50", "fast p50")] == pytest.approx(4.0)
    assert ratios[("slow p99.9", "fast p99.9")] == pytest.approx(4.0)
    assert ratios[("more", "less")] == pytest.approx(3.0)
    table = report.format_table()
    assert "4.00x" in table and "3.00x" in table


def test_saving_two_benchmarks_keeps_both_sections_and_the_plot_draws_them(tmp_path: Path) -> None:
    for name in ("first", "second"):
        report = Report(name, results_dir=tmp_path)
        report.add_latency(LatencyStats.from_samples_ns(f"{name} rtt", range(1_000, 50_000, 7)))
        report.save()

    results = json.loads((tmp_path / "results.json").read_text())
    written = write_plots(tmp_path)

    assert set(results["benchmarks"]) == {"first", "second"}
    assert results["benchmarks"]["first"]["rows"][0]["name"] == "first rtt p50"
    assert [path.name for path in written] == ["latency.png", "latency.html"]
    assert (tmp_path / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "second rtt p99.9" in (tmp_path / "latency.html").read_text()


def test_no_latencies_means_no_plot(tmp_path: Path) -> None:
    assert write_plots(tmp_path) == []


def test_an_unreadable_results_file_is_moved_aside_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text("{torn")

    assert load_results(tmp_path / "results.json") == {}
    assert (tmp_path / "results.json.broken").read_text() == "{torn"


def test_runner_finds_the_baselines_first_and_skips_a_missing_module() -> None:
    found = runner.discover()
    outcome = runner.run_child("no_such_benchmark", quick=True, timeout_s=5)

    assert found[0] == "baselines"
    assert "common" not in found and "__main__" not in found
    assert outcome.status == "skipped"


def test_socket_echo_baseline_measures_every_round_trip() -> None:
    stats = socket_echo_rtt(50, warmup=5)

    assert stats.count == 50
    assert 0 < stats.min_us <= stats.p50_us <= stats.p99_us <= stats.max_us


def test_frame_reproduces_a_quickfix_message_byte_for_byte() -> None:
    expected = QUICKFIX_LOGON.replace("|", "\x01").encode()
    fields = [
        (35, "A"),
        (34, "1"),
        (49, "FIXSIM"),
        (52, "20261129-21:14:36.473"),
        (56, "CLIENT1"),
        (98, "0"),
        (108, "30"),
        (141, "Y"),
    ]

    assert frame(fields) == expected
    assert checksum(expected[: expected.rindex(b"10=")]) == "244"


def test_split_messages_waits_for_the_checksum_field() -> None:
    whole = QUICKFIX_LOGON.replace("|", "\x01").encode()
    buffer = bytearray(whole + whole[:40])

    first = split_messages(buffer)
    buffer.extend(whole[40:])
    second = split_messages(buffer)

    assert [m.msg_type for m in first] == ["A"]
    assert [m.get(56) for m in second] == ["CLIENT1"]
    assert buffer == bytearray()
