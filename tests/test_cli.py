"""The command line: help that teaches, errors that say what to fix."""
import pytest

from codecorpus.cli import main
from codecorpus.config import STAGE_ORDER


@pytest.mark.parametrize("command, phrase", [
    ([], "Typical session"),
    (["run"], "resumes from its last committed shard"),
    (["stage"], "NAME is one of"),
    (["sample"], "small (tests), default, large"),
    (["why"], "REPO/PATH"),
    (["stats"], "drops per rule"),
    (["validate"], "dedup.threshold = 0.7"),
])
def test_help_teaches(command, phrase, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(command + ["--help"])
    assert exit_info.value.code == 0
    assert phrase in capsys.readouterr().out


def test_validate_reports_the_bad_key(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("dedup:\n  threshold: 2\nstages: [ingest, pii]\n")
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert "dedup.threshold: got 2" in err

    config.write_text("sources: {sample: small}\nstages: [ingest, annotate]\n")
    assert main(["validate", str(config)]) == 0
    assert "Stages: ingest, annotate" in capsys.readouterr().out


def test_stage_names_are_the_pipeline_order(capsys):
    with pytest.raises(SystemExit):
        main(["stage", "bogus", "x.yaml"])
    err = capsys.readouterr().err
    assert all(name in err for name in STAGE_ORDER)
