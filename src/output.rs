//! Writing the files a user names: one rule for every output gradc writes (checkpoints, logs,
//! CSVs, charts, predictions, snapshots). Only a new path or a regular file is written, and the
//! check runs before any work, so a mistyped path is reported before training, not after it.
//!
//! A symbolic link is refused rather than followed or replaced: writing through it would change
//! a file the user did not name, and renaming over it would replace the link. A FIFO, a device
//! or a socket would be removed by a rename or written to by an open, and a directory cannot be
//! a file: none of them is what a user who names an output means.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Checks that `path` is new or a regular file, which gradc may write; the error says why not.
pub fn check(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(io::Error::other("it is a symbolic link, which gradc does not replace"))
        }
        Ok(meta) if meta.is_dir() => Err(io::Error::other("it is a directory")),
        Ok(meta) if !meta.is_file() => {
            Err(io::Error::other("it is not a regular file (a device, FIFO or socket), which gradc does not replace"))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates (or truncates) `path` for writing as it goes, as a log is: [`check`]ed first, then
/// opened without following a symbolic link and without blocking on a FIFO, either of which
/// could have appeared since the check, and refused unless what was opened is a regular file.
pub fn create(path: &Path) -> io::Result<File> {
    check(path)?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("it is not a regular file, which gradc does not write to"));
    }
    Ok(file)
}

/// Writes `bytes` to `path` atomically and durably: to a temporary file in the same directory
/// (a rename is atomic only within one file system), synced, renamed over `path`, and then the
/// directory synced so the rename itself survives a crash. The temporary file exists only for
/// this call, and is removed when any step fails (by `NamedTempFile`'s drop) or the process is
/// interrupted while writing it (by [`crate::runtime::interrupt`]). Only what [`check`] allows
/// is replaced.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    check(path)?;
    let mut temp = temp_file(path)?;
    let _interrupt = crate::runtime::interrupt::guard(temp.path());
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    sync_dir(parent_dir(path))
}

/// Checks that [`write_atomically`] will be able to write `path`, by [`check`] and by creating
/// and removing a temporary file beside it: run before training, so a mistyped directory is
/// reported before the run, not after it.
pub fn check_writable(path: &Path) -> io::Result<()> {
    check(path)?;
    let temp = temp_file(path)?;
    let _interrupt = crate::runtime::interrupt::guard(temp.path());
    temp.close()
}

/// A new temporary file beside `path`, hidden and named after it (`.ckpt.safetensors.XXXXXX.tmp`,
/// unique, so concurrent runs saving to one directory do not collide).
fn temp_file(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let name =
        path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file"))?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // An output is created as any new file is (0666 less the umask), not tempfile's 0600.
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.tempfile_in(parent_dir(path))
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory holding each kind of path the rule refuses, and a file a link points at.
    fn specials() -> (tempfile::TempDir, Vec<std::path::PathBuf>) {
        let d = tempfile::tempdir().expect("temp dir");
        let target = d.path().join("target");
        std::fs::write(&target, b"mine").expect("write");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let dangling = d.path().join("dangling");
        std::os::unix::fs::symlink(d.path().join("absent"), &dangling).expect("symlink");
        let fifo = d.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
        let dir = d.path().join("dir");
        std::fs::create_dir(&dir).expect("mkdir");
        (d, vec![link, dangling, fifo, dir, "/dev/null".into()])
    }

    #[test]
    fn only_new_paths_and_regular_files_are_written() {
        let (d, refused) = specials();
        for path in &refused {
            assert!(check(path).is_err(), "{} is refused", path.display());
            assert!(create(path).is_err(), "{} is not opened", path.display());
            assert!(write_atomically(path, b"new").is_err(), "{} is not replaced", path.display());
            assert!(check_writable(path).is_err(), "{} is refused by the probe", path.display());
        }
        assert_eq!(std::fs::read(d.path().join("target")).expect("read"), b"mine", "the link's target is untouched");
        assert!(!d.path().join("absent").exists(), "a dangling link's target is not created");
        let new = d.path().join("new");
        create(&new).expect("a new path").write_all(b"1").expect("write");
        write_atomically(&new, b"2").expect("a regular file is replaced");
        assert_eq!(std::fs::read(&new).expect("read"), b"2");
        let names = std::fs::read_dir(d.path()).expect("list").count();
        assert_eq!(names, 6, "no temporary file is left behind: target, four refused paths, new");
    }

    #[test]
    fn a_bare_file_name_is_written_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("w.safetensors")), Path::new("."));
        assert_eq!(parent_dir(Path::new("out/w.safetensors")), Path::new("out"));
    }
}
