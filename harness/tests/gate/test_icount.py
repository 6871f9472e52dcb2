"""The instruction-count check of two gate builds: its parser, its workload and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram_harness.gate import icount

ANNOTATE = """\
--------------------------------------------------------------------------------
Ir
--------------------------------------------------------------------------------
3,024,192,033 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir                   file:function
--------------------------------------------------------------------------------
1,282,170,787 (42.40%)  ???:0x00000000000c34b0 [/x/site/engram/_core.cpython-311-x86_64-linux-gnu.so]
   70,111,173 (10.63%)  ???:random_standard_normal [/x/numpy/random/_generator.cpython-311.so]
  658,676,048 (21.78%)  ???:0x00000000001570a0'2 [/x/site/engram/_core.cpython-311-x86_64-linux-gnu.so]
"""


def test_only_the_engine_module_lines_are_summed() -> None:
    assert icount.module_instructions(ANNOTATE) == 1_282_170_787 + 658_676_048


def test_an_output_without_the_module_sums_to_zero() -> None:
    assert icount.module_instructions(ANNOTATE, module="_nothing.") == 0


def test_the_workload_runs_and_stores_every_episode() -> None:
    assert icount.workload(episodes=50, queries=8, dim=16) == 50


def test_a_site_without_the_engine_is_refused(tmp_path: Path) -> None:
    if icount.shutil.which("valgrind") is None or icount.shutil.which("callgrind_annotate") is None:
        with pytest.raises(SystemExit, match="valgrind"):
            icount.count(tmp_path, 10, 2)
    else:
        with pytest.raises(SystemExit, match="no engram package"):
            icount.count(tmp_path, 10, 2)


@pytest.mark.parametrize("argv", [[], ["--site", "x", "--episodes", "0"]])
def test_bad_arguments_say_what_is_expected(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        icount.main(argv)
    err = capsys.readouterr().err
    assert "--site" in err or "positive" in err
