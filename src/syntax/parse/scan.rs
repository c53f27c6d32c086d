//! Pre-scan: bracket depth, before pest recurses into it.

use super::MAX_NESTING;
use crate::diag::{Diag, FileId, Span};
use crate::syntax::errors;

/// What the pre-scan learnt about a source that pest may still reject.
pub(super) struct Scan {
    /// The innermost bracket still open at the end of the file, as (offset, character).
    pub(super) unclosed: Option<(usize, char)>,
    /// Where a block comment starts that is never closed.
    pub(super) open_comment: Option<usize>,
}

/// Walks the text as the grammar tokenises it (skipping comments and strings) and rejects bracket
/// nesting deeper than [`MAX_NESTING`], pointing at the first bracket too deep.
pub(super) fn scan(source: &str, file: FileId) -> Result<Scan, Diag> {
    let bytes = source.as_bytes();
    // Open brackets; never longer than MAX_NESTING + 1.
    let mut open: Vec<(usize, char)> = Vec::new();
    let mut open_comment = None;
    let mut i = 0;
    // All delimiters are ASCII, so walking bytes never splits a character that matters.
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = source[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = match source[i + 2..].find("*/") {
                    Some(n) => i + 2 + n + 2,
                    None => {
                        open_comment = Some(i);
                        bytes.len()
                    }
                };
            }
            b'"' => {
                i += 1;
                // A string ends at its closing quote or, unterminated, at the end of the line.
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' && bytes.get(i + 1) != Some(&b'\n') { 2 } else { 1 };
                }
                i += 1;
            }
            c @ (b'(' | b'[' | b'{') => {
                open.push((i, c as char));
                if open.len() > MAX_NESTING {
                    return Err(errors::brackets_too_deep(Span::new(file, i, i + 1), open.len()));
                }
                i += 1;
            }
            b')' | b']' | b'}' => {
                open.pop();
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(Scan { unclosed: open.last().copied(), open_comment })
}
