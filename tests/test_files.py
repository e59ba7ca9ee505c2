"""The one file writer: atomic, mode-keeping, refusing what it must not replace."""

import os
import stat

import pytest

from ganviz.core.files import FileError, atomic_open, atomic_path, check_writable, write_atomic


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_write_replaces_the_file_and_keeps_its_mode(tmp_path):
    path = tmp_path / "lesson.json"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_atomic(path, "new")
    assert path.read_text() == "new" and mode(path) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["lesson.json"]


def test_a_new_file_follows_the_umask_not_mkstemps_0600(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "a.bin", b"\x00\x01")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a.bin") == 0o640
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("before")
    with pytest.raises(RuntimeError):
        with atomic_open(path, "w") as f:
            f.write("half")
            raise RuntimeError("disk full")
    assert path.read_text() == "before"
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]


def test_the_temporary_keeps_the_suffix_for_writers_that_choose_by_it(tmp_path):
    with atomic_path(tmp_path / "rec.mp4") as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".mp4"
        tmp.write_bytes(b"x")
    assert (tmp_path / "rec.mp4").read_bytes() == b"x"


def test_writing_through_a_link_keeps_the_link(tmp_path):
    (tmp_path / "real.json").write_text("a")
    (tmp_path / "link.json").symlink_to("real.json")
    write_atomic(tmp_path / "link.json", "b")
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "real.json").read_text() == "b"


def test_a_read_only_target_is_refused_and_untouched(tmp_path):
    path = tmp_path / "shared.json"
    path.write_text("keep")
    os.chmod(path, 0o444)
    with pytest.raises(FileError, match="shared.json is read-only"):
        write_atomic(path, "overwrite")
    assert path.read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]


@pytest.mark.parametrize(
    "target, words",
    [
        (lambda d: d / "missing" / "s.json", ["folder", "missing", "does not exist"]),
        (lambda d: d, ["is a folder"]),
        (lambda d: d / "file.txt" / "s.json", ["is not a folder"]),
        (lambda d: "/dev/null", ["not a regular file"]),
    ],
)
def test_check_writable_names_the_problem_and_creates_nothing(tmp_path, target, words):
    (tmp_path / "file.txt").write_text("x")
    before = sorted(tmp_path.iterdir())
    with pytest.raises(FileError) as err:
        check_writable(target(tmp_path), "--save")
    message = str(err.value)
    assert message.startswith("--save ") and "\n" not in message
    for word in words:
        assert word in message
    assert sorted(tmp_path.iterdir()) == before


def test_check_writable_accepts_new_and_writable_files(tmp_path):
    assert check_writable(tmp_path / "new.csv") == tmp_path / "new.csv"
    (tmp_path / "old.csv").write_text("x")
    check_writable(tmp_path / "old.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.csv"]


def test_file_error_is_an_os_error():
    assert issubclass(FileError, OSError)
