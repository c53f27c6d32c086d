//! Snapshot comparison and writing on temporary files.

use super::*;

/// A fresh file path in a fresh temporary directory (kept alive by the returned guard).
fn temp() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("m.backward.ir");
    (dir, path)
}

#[test]
fn a_missing_snapshot_is_missing_and_update_writes_it() {
    let (_dir, path) = temp();
    assert_eq!(compare("graph g() {\n}\n", &path).expect("compares"), Comparison::Missing);
    assert!(update("graph g() {\n}\n", &path).expect("writes"));
    assert_eq!(std::fs::read_to_string(&path).expect("written"), "graph g() {\n}\n");
    assert_eq!(compare("graph g() {\n}\n", &path).expect("compares"), Comparison::Matches);
    assert!(!update("graph g() {\n}\n", &path).expect("nothing to write"), "an equal snapshot is left alone");
}

#[test]
fn a_different_snapshot_shows_a_unified_diff() {
    let (_dir, path) = temp();
    std::fs::write(&path, "a\nb\nc\n").expect("write");
    let Comparison::Differs(diff) = compare("a\nB\nc\n", &path).expect("compares") else { panic!("differs") };
    assert!(diff.contains("-b\n") && diff.contains("+B\n") && diff.contains(" a\n"), "{diff}");
    assert!(diff.contains("+++ printed"), "{diff}");
}

#[cfg(unix)]
#[test]
fn update_refuses_a_symbolic_link() {
    let (dir, path) = temp();
    let target = dir.path().join("target.ir");
    std::fs::write(&target, "old\n").expect("write");
    std::os::unix::fs::symlink(&target, &path).expect("symlink");
    let e = update("new\n", &path).expect_err("a link is not replaced");
    assert_eq!(e.code, errors::WRITE);
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "old\n");
}

#[test]
fn stage_names_read_back() {
    for s in Stage::ALL {
        assert_eq!(Stage::named(s.name()), Some(s));
    }
    assert_eq!(Stage::named("bakward"), None);
}
