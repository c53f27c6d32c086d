//! Reading the files a user names: only regular files, and never more than a stated size.
//!
//! A FIFO would block `open` until some writer appears, and a device such as `/dev/zero` never
//! ends, so both are refused from their metadata before anything is opened; a regular file is
//! read through `take` so a file that grows while it is read still stops at the cap.

use std::fs::FileType;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug)]
pub enum Refusal {
    /// The path does not exist or its metadata cannot be read.
    Missing(std::io::Error),
    /// The path is a directory.
    Directory,
    /// The path is something other than a regular file (named by `kind`).
    Special(&'static str),
    /// The file holds more than `limit` bytes.
    TooLarge { len: u64, limit: u64 },
    /// Opening or reading failed.
    Io(std::io::Error),
}

/// What kind of file `t` is, in words, when it is neither a regular file nor a directory.
fn special(t: FileType) -> Option<&'static str> {
    if t.is_file() || t.is_dir() {
        None
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// The bytes of the regular file at `path` (a symlink is followed), at most `limit` of them.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, Refusal> {
    let meta = std::fs::metadata(path).map_err(Refusal::Missing)?;
    if meta.is_dir() {
        return Err(Refusal::Directory);
    }
    if let Some(kind) = special(meta.file_type()) {
        return Err(Refusal::Special(kind));
    }
    if meta.len() > limit {
        return Err(Refusal::TooLarge { len: meta.len(), limit });
    }
    let file = std::fs::File::open(path).map_err(Refusal::Io)?;
    read_capped(file, limit)
}

/// Everything `r` yields, at most `limit` bytes (a decompressing reader can expand without
/// bound, so it is capped like a file): `Io` or `TooLarge` on failure.
pub fn read_capped(r: impl Read, limit: u64) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::new();
    r.take(limit + 1).read_to_end(&mut bytes).map_err(Refusal::Io)?;
    if bytes.len() as u64 > limit {
        return Err(Refusal::TooLarge { len: bytes.len() as u64, limit });
    }
    Ok(bytes)
}

impl Refusal {
    /// Why the file was not read, for a message about a `what` ("a checkpoint", "a log"):
    /// "it is a directory", "it holds 17.0 MiB or more, over the 16.0 MiB a log may hold".
    pub fn reason(&self, what: &str) -> String {
        match self {
            Refusal::Missing(e) | Refusal::Io(e) => e.to_string(),
            Refusal::Directory => "it is a directory".into(),
            Refusal::Special(kind) => format!("it is {kind}, not a regular file"),
            Refusal::TooLarge { len, limit } => {
                format!("it holds {} or more, over the {} {what} may hold", size(*len), size(*limit))
            }
        }
    }
}

/// `n` bytes in the largest binary unit that keeps it whole or nearly so (`16 MiB`).
pub fn size(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_and_fifos_without_blocking() {
        assert!(matches!(read_regular(Path::new("/dev/zero"), 1 << 20), Err(Refusal::Special("a character device"))));
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        assert!(matches!(read_regular(&fifo, 1 << 20), Err(Refusal::Special("a FIFO (named pipe)"))));
        assert!(matches!(read_regular(dir.path(), 1 << 20), Err(Refusal::Directory)));
        assert!(matches!(read_regular(&dir.path().join("none"), 1 << 20), Err(Refusal::Missing(_))));
    }

    #[test]
    fn reads_up_to_the_limit_and_refuses_more() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_regular(&path, 5).unwrap(), b"12345");
        assert!(matches!(read_regular(&path, 4), Err(Refusal::TooLarge { len: 5, limit: 4 })));
        assert_eq!(read_capped(&[7u8; 1000][..], 1000).unwrap().len(), 1000);
        assert!(matches!(read_capped(&[7u8; 1001][..], 1000), Err(Refusal::TooLarge { len: 1001, limit: 1000 })));
        assert_eq!(size(16 << 20), "16.0 MiB");
        assert_eq!(size(100), "100 bytes");
    }
}
