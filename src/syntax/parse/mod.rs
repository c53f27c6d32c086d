//! The parser: `grammar/grad.pest` recognises the text, then one `lower_<rule>` method per grammar
//! rule turns its pairs into the typed AST of [`super::ast`], every node with its span.
//!
//! - `scan`: the pre-scan of bracket depth, before pest recurses into it;
//! - `report`: a pest error as a diagnostic that names rules in the user's words;
//! - `lower`: declarations, statements and types, one `lower_<rule>` per rule;
//! - `expr`: expressions, through the Pratt parser.
//!
//! Hostile input must not exhaust the stack, so recursion is bounded before it happens:
//! - pest recurses once per bracket, so a pre-scan rejects brackets nested deeper than
//!   [`MAX_NESTING`] before pest runs;
//! - the Pratt parser recurses along runs of `-` and `^`, and the AST's own `Drop`, `Clone` and
//!   every later pass recurse along the tree, so expression trees deeper than [`MAX_EXPR_DEPTH`]
//!   are a diagnostic (runs of `-`/`^` are counted before the Pratt parser sees them).
//!
//! Everything else in the grammar is flat repetition, which pest runs as loops.

mod expr;
mod lower;
mod report;
mod scan;
#[cfg(test)]
mod tests;

use pest::Parser as _;
use pest_derive::Parser;

use super::ast::File;
use crate::diag::{Diag, FileId};

/// Deepest bracket nesting (`(`, `[` and `{` together) the parser accepts.
pub const MAX_NESTING: usize = 200;

/// Deepest expression tree the parser produces; later passes may recurse this deep.
///
/// Larger than [`MAX_NESTING`] so that the deepest accepted brackets still leave room for a few
/// operators; it is what bounds long chains such as `1+1+...+1` or `------x`.
pub const MAX_EXPR_DEPTH: usize = 256;

/// Reserved words, which are never names; must match the grammar's `keyword` rule.
pub const KEYWORDS: [&str; 14] = [
    "use",
    "param",
    "fn",
    "layer",
    "model",
    "optimizer",
    "schedule",
    "train",
    "let",
    "state",
    "buffer",
    "then",
    "true",
    "false",
];

#[derive(Parser)]
#[grammar = "../grammar/grad.pest"]
struct GradParser;

/// Stack of the thread `parse` runs on: 8 times what the deepest accepted input needs in a
/// debug build (about 1 MiB for pest, 2 MiB for lowering); only the pages touched are committed.
const PARSE_STACK_BYTES: usize = 16 << 20;

/// Parses one source file into its AST; every span refers to `file`.
///
/// Runs on a thread of its own with a known stack, so that the nesting bounds above are safe
/// whatever stack the caller has (a test thread's 2 MiB is about what a debug build needs).
pub fn parse(source: &str, file: FileId) -> Result<File, Diag> {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new().name("gradc-parse".to_string()).stack_size(PARSE_STACK_BYTES);
        match thread.spawn_scoped(scope, || parse_on_this_stack(source, file)) {
            Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had (a resource limit): the caller's stack is the next best.
            Err(_) => parse_on_this_stack(source, file),
        }
    })
}

fn parse_on_this_stack(source: &str, file: FileId) -> Result<File, Diag> {
    let scan = scan::scan(source, file)?;
    let mut pairs =
        GradParser::parse(Rule::file, source).map_err(|err| report::syntax_error(&err, source, file, &scan))?;
    let file_pair = pairs.next().expect("grammar: a successful parse of `file` is one pair");
    lower::file(file, file_pair)
}
