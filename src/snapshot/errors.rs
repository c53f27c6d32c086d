//! The errors IR snapshots raise, one constructor each, with their codes as constants.

use std::io;
use std::path::Path;

use crate::diag::Diag;

/// The printed IR differs from the stored snapshot.
pub const DIFFERS: &str = "gradc::snapshot::differs";
/// No snapshot is stored at the path `--check` names.
pub const MISSING: &str = "gradc::snapshot::missing";
/// A snapshot that cannot be read, or is not UTF-8 text.
pub const READ: &str = "gradc::snapshot::read";
/// A snapshot that cannot be written.
pub const WRITE: &str = "gradc::snapshot::write";
/// `gradc test` of a path that is not a readable directory.
pub const DIR: &str = "gradc::test::dir";
/// Some check of `gradc test` failed.
pub const FAILED: &str = "gradc::test::failed";

/// The printed IR differs from the snapshot at `path` (the diff is printed before this).
pub fn differs(path: &Path) -> Diag {
    Diag::new(DIFFERS, format!("the printed IR differs from `{}`", path.display()))
        .help("if the change is intended, run the same command with --update to store the printed IR")
}

/// No snapshot at `path`.
pub fn missing(path: &Path) -> Diag {
    Diag::new(MISSING, format!("there is no snapshot `{}` to check against", path.display()))
        .help("run the same command with --update to store the printed IR there")
}

/// The snapshot at `path` cannot be read.
pub fn unreadable(path: &Path, e: &str) -> Diag {
    Diag::new(READ, format!("cannot read the snapshot `{}`: {e}", path.display()))
        .help("check the path and its permissions")
}

/// The file at `path` is not UTF-8 text, so it is no IR snapshot.
pub fn not_text(path: &Path) -> Diag {
    Diag::new(READ, format!("`{}` is not UTF-8 text, so it is no IR snapshot", path.display()))
        .help("name the `.ir` file `gradc ir` wrote, or store one with --update")
}

/// The snapshot at `path` cannot be written.
pub fn unwritable(path: &Path, e: &io::Error) -> Diag {
    Diag::new(WRITE, format!("cannot write the snapshot `{}`: {e}", path.display()))
        .help("name a regular file in a writable directory")
}

/// `gradc test` of `dir`, which cannot be listed.
pub fn unlistable(dir: &Path, e: &io::Error) -> Diag {
    Diag::new(DIR, format!("cannot list the directory `{}`: {e}", dir.display()))
        .help("`gradc test` takes a directory of `.grad` files and their `.ir` snapshots")
}

/// `gradc test` of a directory without `.grad` files.
pub fn no_models(dir: &Path) -> Diag {
    Diag::new(DIR, format!("there is no `.grad` file in `{}`", dir.display()))
        .help("`gradc test` checks each `model.grad` of a directory against its `model.<stage>.ir` snapshots")
}

/// `gradc test` found `failed` of `total` models failing.
pub fn failed(failed: usize, total: usize) -> Diag {
    Diag::new(FAILED, format!("{failed} of {total} models failed their checks"))
        .help("a differing snapshot shows its diff above; if the change is intended, run with --update")
}
