//! Surface syntax: the pest grammar's pairs lowered into the typed AST.

pub mod ast;
mod errors;
mod parse;
pub mod print;

pub use parse::{parse, KEYWORDS, MAX_EXPR_DEPTH, MAX_NESTING};
