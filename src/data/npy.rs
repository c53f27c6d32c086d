//! NumPy's NPY array files, and NPZ archives of them.
//!
//! An NPY file is the magic `\x93NUMPY`, a major and minor version byte (1.0, 2.0 or 3.0), the
//! header's length (u16 little-endian in version 1, u32 after), and the header: a Python dict
//! literal `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`; then the elements.
//! Little-endian f32, f64, i32, i64 and u8 arrays in C order are read; anything else is a
//! diagnostic naming the file. An NPZ file is a zip archive of `NAME.npy` members, stored or
//! deflated; the `zip` crate reads the archive.

use std::path::Path;

use super::array::{elements, read, Array, Values};
use super::errors::{self, Origin, DATA_NPY};
use crate::diag::{Diag, Span};

/// The bytes every NPY file starts with.
const MAGIC: &[u8] = b"\x93NUMPY";

/// The origin of the NPY file at `path` for diagnostics.
pub(crate) fn origin(path: &Path, span: Span) -> Origin {
    Origin { file: path.display().to_string(), code: DATA_NPY, span }
}

/// Reads the NPY file at `path`; `span` is the expression that named it.
pub fn load_npy(path: &Path, span: Span) -> Result<Array, Diag> {
    let o = origin(path, span);
    parse(&read(path, &o)?, &o)
}

/// Reads the arrays `names` (without `.npy`) of the NPZ archive at `path`, in that order, with
/// the origin of each for diagnostics about its contents.
pub fn load_npz(path: &Path, names: &[&str], span: Span) -> Result<Vec<(Array, Origin)>, Diag> {
    let o = Origin { file: path.display().to_string(), ..origin(path, span) };
    let bytes = read(path, &o)?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| errors::not_zip(&o, &e))?;
    let mut arrays = Vec::new();
    for &name in names {
        let member = format!("{name}.npy");
        if zip.index_for_name(&member).is_none() {
            let available = zip.file_names().filter_map(|f| f.ok()?.strip_suffix(".npy").map(String::from)).collect();
            return Err(errors::no_array(&o, name, &sorted(available)));
        }
        let mut entry = zip.by_name(&member).map_err(|e| errors::npz_member(&o, name, &e))?;
        // Reading to the end checks the entry's CRC; a deflated entry is capped like a file.
        let data = crate::files::read_capped(&mut entry, super::array::MAX_DATA_BYTES).map_err(|r| match r {
            crate::files::Refusal::Io(e) => errors::npz_member(&o, name, &e),
            r => errors::refused(&o, r),
        })?;
        let inner = Origin { file: format!("{}` array `{name}", o.file), ..o.clone() };
        arrays.push((parse(&data, &inner)?, inner));
    }
    Ok(arrays)
}

/// Names in order, for a stable "it holds ..." list.
fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// Parses the bytes of an NPY file.
pub fn parse(bytes: &[u8], o: &Origin) -> Result<Array, Diag> {
    if !bytes.starts_with(MAGIC) {
        return Err(if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) && !bytes.is_empty() {
            errors::header_truncated(o)
        } else {
            errors::not_npy(o)
        });
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[major, minor]) => (major, minor),
        _ => return Err(errors::header_truncated(o)),
    };
    let (len_bytes, start) = match (major, minor) {
        (1, 0) => (2, 10),
        (2 | 3, 0) => (4, 12),
        _ => return Err(errors::npy_version(o, major, minor)),
    };
    let len_field = bytes.get(8..8 + len_bytes).ok_or_else(|| errors::header_truncated(o))?;
    let header_len = len_field.iter().rev().fold(0usize, |n, &b| n << 8 | usize::from(b));
    let header = bytes.get(start..start + header_len).ok_or_else(|| errors::header_truncated(o))?;
    let header = std::str::from_utf8(header).map_err(|_| errors::npy_header(o, "it is not text"))?;
    let Header { descr, fortran, shape } = header_dict(header).map_err(|p| errors::npy_header(o, &p))?;
    let (dtype, size) = dtype(&descr, o)?;
    if fortran {
        return Err(errors::fortran_order(o));
    }
    let count = elements(&shape).ok_or_else(|| errors::too_large(o, &shape))?;
    let need = count.checked_mul(size).ok_or_else(|| errors::too_large(o, &shape))?;
    let data = &bytes[start + header_len..];
    if data.len() < need {
        return Err(errors::truncated(o, &shape, dtype.name(), need, data.len()));
    }
    if data.len() > need {
        return Err(errors::trailing(o, &shape, data.len() - need));
    }
    Ok(Array { shape, values: dtype.decode_le(data) })
}

/// The bytes of an NPY 1.0 file holding `values` (f32 or i32, little-endian, C order) of
/// `shape`, as `numpy.save` writes it: the header padded with spaces to a multiple of 64
/// bytes and ended by a newline.
///
/// # Panics
/// If `values` is not F32 or I32, or its length is not the shape's.
pub fn encode(shape: &[usize], values: &Values) -> Vec<u8> {
    let (descr, data): (&str, Vec<u8>) = match values {
        Values::F32(v) => ("<f4", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        Values::I32(v) => ("<i4", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        Values::F64(_) | Values::I64(_) | Values::U8(_) => panic!("only f32 and i32 arrays are written"),
    };
    let count: usize = shape.iter().product();
    assert_eq!(data.len(), count * 4, "{count} elements of shape {shape:?}");
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let tuple = match dims.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple}, }}");
    // Magic (6), version (2) and length (2) come first; the newline ends the header.
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend([1, 0]);
    // A header of a few dimensions is far below u16's range.
    out.extend(u16::try_from(header.len()).expect("a short header").to_le_bytes());
    out.extend(header.bytes());
    out.extend(data);
    out
}

/// An element type NPY files may hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DType {
    F32,
    F64,
    I32,
    I64,
    U8,
}

impl DType {
    /// NumPy's name for it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
        }
    }

    /// Bytes per element.
    pub(crate) fn size(self) -> usize {
        match self {
            DType::U8 => 1,
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }

    /// The elements of `data`, little-endian; its length is a multiple of the element size.
    pub(crate) fn decode_le(self, data: &[u8]) -> Values {
        // `chunks_exact(N)` yields N-byte slices, so each `try_into` to `[u8; N]` succeeds.
        match self {
            DType::F32 => {
                Values::F32(data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
            }
            DType::F64 => {
                Values::F64(data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect())
            }
            DType::I32 => {
                Values::I32(data.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect())
            }
            DType::I64 => {
                Values::I64(data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect())
            }
            DType::U8 => Values::U8(data.to_vec()),
        }
    }
}

/// The element type and size of a `descr` such as `<f4`, rejecting big-endian and native order.
fn dtype(descr: &str, o: &Origin) -> Result<(DType, usize), Diag> {
    let mut chars = descr.chars();
    let order = chars.next().filter(|c| matches!(c, '<' | '>' | '|' | '='));
    let code = if order.is_some() { chars.as_str() } else { descr };
    let dtype = match code {
        "f4" => DType::F32,
        "f8" => DType::F64,
        "i4" => DType::I32,
        "i8" => DType::I64,
        "u1" => DType::U8,
        _ => return Err(errors::npy_dtype(o, descr)),
    };
    let size = dtype.size();
    // A single byte has no byte order; a wider element must say it is little-endian.
    match order {
        _ if size == 1 => Ok((dtype, size)),
        Some('<') => Ok((dtype, size)),
        Some('>') => Err(errors::big_endian(o, descr)),
        Some('=') => Err(errors::native_order(o, descr)),
        _ => Err(errors::npy_dtype(o, descr)),
    }
}

/// The three keys of an NPY header.
#[derive(Debug, PartialEq)]
struct Header {
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
}

/// A value of the header dict.
#[derive(Debug, PartialEq)]
enum Literal {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
    /// A list, as a structured dtype's `descr` is.
    List,
}

/// Parses the header's dict literal; the error says what is wrong.
fn header_dict(text: &str) -> Result<Header, String> {
    let mut p = Parser { s: text.trim_end_matches(['\n', ' ', '\0']), i: 0 };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.expect('{')?;
    while !p.eat('}') {
        let key = match p.literal()? {
            Literal::Str(key) => key,
            _ => return Err(format!("expected a quoted key at byte {}", p.i)),
        };
        p.expect(':')?;
        let value = p.literal()?;
        let slot = match key.as_str() {
            "descr" => match value {
                Literal::Str(s) => descr.replace(s),
                Literal::List => return Err("structured dtypes (a list `descr`) are not supported".into()),
                _ => return Err("`descr` must be a string such as '<f4'".into()),
            }
            .map(|_| ()),
            "fortran_order" => match value {
                Literal::Bool(b) => fortran.replace(b).map(|_| ()),
                _ => return Err("`fortran_order` must be True or False".into()),
            },
            "shape" => match value {
                Literal::Tuple(t) => shape.replace(t).map(|_| ()),
                _ => return Err("`shape` must be a tuple of sizes such as (60000, 784)".into()),
            },
            other => return Err(format!("unexpected key '{other}'")),
        };
        if slot.is_some() {
            return Err(format!("key '{key}' appears twice"));
        }
        if !p.eat(',') {
            p.expect('}')?;
            break;
        }
    }
    p.skip_space();
    if p.i < p.s.len() {
        return Err(format!("unexpected text after the dict at byte {}", p.i));
    }
    Ok(Header {
        descr: descr.ok_or("missing key 'descr'")?,
        fortran: fortran.ok_or("missing key 'fortran_order'")?,
        shape: shape.ok_or("missing key 'shape'")?,
    })
}

/// A cursor over the header text.
struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn skip_space(&mut self) {
        self.i = self.s.len() - self.rest().trim_start().len();
    }

    /// Consumes `c` (after spaces) if it is next.
    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        let found = self.rest().starts_with(c);
        if found {
            self.i += c.len_utf8();
        }
        found
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{c}` at byte {}", self.i))
        }
    }

    /// A string, `True`/`False`, a tuple of sizes, or a (skipped) list.
    fn literal(&mut self) -> Result<Literal, String> {
        self.skip_space();
        let rest = self.rest();
        if let Some(q) = rest.chars().next().filter(|&c| c == '\'' || c == '"') {
            let end = rest[1..].find(q).ok_or("a string is never closed")?;
            self.i += end + 2;
            return Ok(Literal::Str(rest[1..end + 1].to_string()));
        }
        for (word, b) in [("True", true), ("False", false)] {
            if rest.starts_with(word) {
                self.i += word.len();
                return Ok(Literal::Bool(b));
            }
        }
        if self.eat('[') {
            let mut depth = 1;
            while depth > 0 {
                let c = self.rest().chars().next().ok_or("a list is never closed")?;
                depth += match c {
                    '[' => 1,
                    ']' => -1,
                    _ => 0,
                };
                self.i += c.len_utf8();
            }
            return Ok(Literal::List);
        }
        if !self.eat('(') {
            return Err(format!("expected a string, True, False or a tuple at byte {}", self.i));
        }
        let mut dims = Vec::new();
        while !self.eat(')') {
            self.skip_space();
            let digits = self.rest().len() - self.rest().trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let dim = self.rest()[..digits].parse().map_err(|_| format!("expected a size at byte {}", self.i))?;
            self.i += digits;
            dims.push(dim);
            if !self.eat(',') {
                self.expect(')')?;
                break;
            }
        }
        Ok(Literal::Tuple(dims))
    }
}

#[cfg(test)]
#[path = "npy_tests.rs"]
mod tests;
