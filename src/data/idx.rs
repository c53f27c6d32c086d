//! The IDX format of the MNIST files, plain or gzipped.
//!
//! An IDX file is a big-endian magic number — two zero bytes, an element type code and the
//! number of dimensions — then each dimension as a big-endian u32, then the elements,
//! big-endian, in C order. Images are `[N, H, W]` (`idx3`), labels `[N]` (`idx1`). A file that
//! starts with gzip's magic bytes is decompressed first (`flate2`, pure Rust).

use std::io::Write;
use std::path::Path;

use super::array::{self, elements, read, Array, Values};
use super::errors::{self, Origin, DATA_IDX};
use super::Dataset;
use crate::diag::{Diag, Span};

/// The bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The origin of the IDX file at `path` for diagnostics.
fn origin(path: &Path, span: Span) -> Origin {
    Origin { file: path.display().to_string(), code: DATA_IDX, span }
}

/// Reads an IDX images file `[N, H, W]` and its labels file `[N]` as a dataset of `[1, H, W]`
/// rows (one channel, as a convolution expects) of the raw values; `span` is the expression
/// that named them.
pub fn load_idx(images: &Path, labels: &Path, span: Span) -> Result<Dataset, Diag> {
    let (xo, yo) = (origin(images, span), origin(labels, span));
    let mut x = parse(&read(images, &xo)?, &xo)?;
    if x.shape.len() != 3 {
        return Err(errors::idx_rank(&xo, x.shape.len(), "images"));
    }
    let y = parse(&read(labels, &yo)?, &yo)?;
    if y.shape.len() != 1 {
        return Err(errors::idx_rank(&yo, y.shape.len(), "labels"));
    }
    x.shape.insert(1, 1);
    array::dataset(x, &xo, y, &yo)
}

/// The decompressed gzip stream `bytes`, at most `limit` bytes of it.
fn gunzip(bytes: &[u8], limit: u64, o: &Origin) -> Result<Vec<u8>, Diag> {
    crate::files::read_capped(flate2::read::MultiGzDecoder::new(bytes), limit).map_err(|r| match r {
        crate::files::Refusal::Io(e) => errors::gzip(o, &e),
        r => errors::refused(o, r),
    })
}

/// Parses the bytes of an IDX file, gunzipping them first if they are gzipped.
pub fn parse(bytes: &[u8], o: &Origin) -> Result<Array, Diag> {
    if bytes.starts_with(&GZIP_MAGIC) {
        let plain = gunzip(bytes, super::array::MAX_DATA_BYTES, o)?;
        return parse_plain(&plain, o);
    }
    parse_plain(bytes, o)
}

/// Parses an uncompressed IDX file.
fn parse_plain(bytes: &[u8], o: &Origin) -> Result<Array, Diag> {
    let Some(&[z0, z1, code, rank]) = bytes.get(..4) else {
        return Err(errors::header_truncated(o));
    };
    if (z0, z1) != (0, 0) {
        return Err(errors::not_idx(o));
    }
    let (size, name) = match code {
        0x08 => (1, "u8"),
        0x09 => (1, "i8"),
        0x0B => (2, "i16"),
        0x0C => (4, "i32"),
        0x0D => (4, "f32"),
        0x0E => (8, "f64"),
        _ => return Err(errors::idx_type(o, code)),
    };
    let start = 4 + 4 * usize::from(rank);
    let dims = bytes.get(4..start).ok_or_else(|| errors::header_truncated(o))?;
    // `chunks_exact(4)` yields 4-byte slices, so each `try_into` succeeds.
    let shape: Vec<usize> = dims.chunks_exact(4).map(|c| u32::from_be_bytes(c.try_into().unwrap()) as usize).collect();
    let need = elements(&shape).and_then(|n| n.checked_mul(size)).ok_or_else(|| errors::too_large(o, &shape))?;
    let data = &bytes[start..];
    if data.len() < need {
        return Err(errors::truncated(o, &shape, name, need, data.len()));
    }
    if data.len() > need {
        return Err(errors::trailing(o, &shape, data.len() - need));
    }
    let values = match code {
        0x08 => Values::U8(data.to_vec()),
        0x09 => Values::I32(data.iter().map(|&b| i32::from(b as i8)).collect()),
        0x0B => Values::I32(data.chunks_exact(2).map(|c| i32::from(i16::from_be_bytes([c[0], c[1]]))).collect()),
        0x0C => Values::I32(data.chunks_exact(4).map(|c| i32::from_be_bytes(c.try_into().unwrap())).collect()),
        0x0D => Values::F32(data.chunks_exact(4).map(|c| f32::from_be_bytes(c.try_into().unwrap())).collect()),
        // The type code was matched above, so only 0x0E is left.
        _ => Values::F64(data.chunks_exact(8).map(|c| f64::from_be_bytes(c.try_into().unwrap())).collect()),
    };
    Ok(Array { shape, values })
}

/// The bytes of an uncompressed IDX file of `values` (u8) with `shape`.
///
/// # Panics
/// If `shape` has more than 255 dimensions, a dimension over `u32::MAX`, or does not hold
/// `values.len()` elements.
pub fn write_u8(shape: &[usize], values: &[u8]) -> Vec<u8> {
    assert_eq!(elements(shape), Some(values.len()), "shape {shape:?} for {} values", values.len());
    let rank = u8::try_from(shape.len()).expect("at most 255 dimensions");
    let mut out = vec![0, 0, 0x08, rank];
    for &d in shape {
        out.extend(u32::try_from(d).expect("dimension fits u32").to_be_bytes());
    }
    out.extend_from_slice(values);
    out
}

/// `bytes` gzipped at the best compression, with no file name and time 0, so the same input
/// always gives the same file.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    enc.write_all(bytes).expect("write to a Vec");
    enc.finish().expect("write to a Vec")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate::tests::span;
    use crate::data::Labels;

    fn o() -> Origin {
        Origin { file: "t-idx".into(), code: DATA_IDX, span: span() }
    }

    fn message(bytes: &[u8]) -> (String, &'static str) {
        let d = parse(bytes, &o()).expect_err("should fail");
        assert!(d.help.is_some() && d.label.is_some());
        (d.message.trim_start_matches("`t-idx`: ").to_string(), d.code)
    }

    #[test]
    fn reads_every_type_plain_and_gzipped() {
        let images = write_u8(&[2, 2, 3], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]);
        let want = Array { shape: vec![2, 2, 3], values: Values::U8(vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]) };
        assert_eq!(parse(&images, &o()).unwrap(), want);
        assert_eq!(parse(&gzip(&images), &o()).unwrap(), want);
        let typed = |code: u8, data: &[u8]| [&[0, 0, code, 1, 0, 0, 0, 2][..], data].concat();
        let cases = [
            (typed(0x09, &[0xff, 3]), Values::I32(vec![-1, 3])),
            (typed(0x0B, &[0xff, 0xfe, 1, 0]), Values::I32(vec![-2, 256])),
            (typed(0x0C, &[0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff]), Values::I32(vec![256, -1])),
            (typed(0x0D, &[0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0]), Values::F32(vec![1.0, -2.0].into())),
            (typed(0x0E, &[[0x3f, 0xf0, 0, 0, 0, 0, 0, 0], [0; 8]].concat()), Values::F64(vec![1.0, 0.0])),
        ];
        for (bytes, values) in cases {
            assert_eq!(parse(&bytes, &o()).unwrap(), Array { shape: vec![2], values });
        }
    }

    #[test]
    fn a_gzip_stream_that_expands_past_the_cap_is_refused() {
        let images = write_u8(&[4, 10, 10], &[0; 400]);
        assert_eq!(gunzip(&gzip(&images), 416, &o()).unwrap(), images);
        let e = gunzip(&gzip(&images), 415, &o()).unwrap_err();
        assert_eq!(e.code, errors::DATA_TOO_LARGE);
        assert!(e.message.contains("holds 416 bytes or more, over the 415 bytes"), "{}", e.message);
    }

    #[test]
    fn bad_headers_and_data() {
        let good = write_u8(&[2, 3], &[1; 6]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "the file ends inside its header"),
            (vec![0, 0, 8], "the file ends inside its header"),
            (good[..9].to_vec(), "the file ends inside its header"),
            (vec![1, 0, 8, 1, 0, 0, 0, 0], "not an IDX file (its first two bytes must be zero)"),
            (vec![0, 0, 0x0A, 1, 0, 0, 0, 0], "unknown IDX element type 0x0A"),
            (good[..15].to_vec(), "the data is truncated: shape [2, 3] of u8 needs 6 bytes, the file holds 3"),
            ([&good[..], &[0]].concat(), "1 bytes follow the data of shape [2, 3]"),
            (
                vec![0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                "the data is truncated: shape [4294967295, 4294967295] of u8 needs 18446744065119617025 bytes, the file holds 0",
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(message(&bytes), (want.to_string(), DATA_IDX), "{bytes:?}");
        }
        let mut broken = gzip(&good);
        broken.truncate(broken.len() - 6);
        assert!(message(&broken).0.starts_with("cannot decompress it: "), "{:?}", message(&broken));
    }

    #[test]
    fn loads_images_as_one_channel_and_checks_ranks() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: Vec<u8>| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let x = write("x.gz", gzip(&write_u8(&[3, 2, 2], &(0..12).collect::<Vec<u8>>())));
        let y = write("y", write_u8(&[3], &[2, 0, 1]));
        let ds = load_idx(&x, &y, span()).unwrap();
        assert_eq!((ds.n, ds.d, ds.shape.clone()), (3, 4, vec![1, 2, 2]));
        assert_eq!(ds.row(2), [8.0, 9.0, 10.0, 11.0]);
        assert_eq!(ds.labels, Labels::Classes { y: vec![2, 0, 1], classes: 3 });
        let d = load_idx(&y, &y, span()).unwrap_err();
        assert_eq!(d.code, errors::DATA_SHAPE);
        assert!(d.message.ends_with("an IDX images file has 3 dimensions [N, H, W], this one has 1"), "{}", d.message);
        let d = load_idx(&x, &x, span()).unwrap_err();
        assert!(d.message.ends_with("an IDX labels file has 1 dimension [N], this one has 3"), "{}", d.message);
        let short = write("short", write_u8(&[2], &[0, 1]));
        let d = load_idx(&x, &short, span()).unwrap_err();
        assert_eq!(d.code, errors::DATA_SHAPE);
        assert!(d.message.contains("holds 2 labels, but `"), "{}", d.message);
        let d = load_idx(&dir.path().join("nope"), &y, span()).unwrap_err();
        assert_eq!(d.code, errors::DATA_MISSING);
    }
}
