//! The errors of parsing, one constructor each, with their codes as constants; call sites name
//! the error, not its wording.

use super::parse::{MAX_EXPR_DEPTH, MAX_NESTING};
use crate::diag::{Diag, Span};

/// Text the grammar does not accept.
pub const PARSE: &str = "gradc::syntax::parse";
/// Brackets or expressions nested deeper than the parser allows.
pub const NESTING: &str = "gradc::syntax::nesting";
/// A number or dimension too large to represent.
pub const NUMBER: &str = "gradc::syntax::number";
/// `|>` into something that is not a function or a call.
pub const PIPE: &str = "gradc::syntax::pipe";
/// A chain of comparisons (`a < b < c`).
pub const COMPARISON: &str = "gradc::syntax::comparison";

const SPLIT_BRACKETS: &str = "split the expression into smaller named pieces (`let` bindings or functions)";

/// What a generic syntax error suggests, found from the text around it.
pub enum Hint<'a> {
    /// The file ended with the bracket `bracket`, at `at`, still open.
    Unclosed {
        /// Where the open bracket is.
        at: Span,
        /// The bracket: `(`, `[` or `{`.
        bracket: char,
    },
    /// A reserved word (written as "`fn`") stands where a name was expected.
    ReservedWord(&'a str),
    /// A space between a function's name and its `(`.
    CallWithSpace,
    /// A call's argument named with `=` (`adam(lr=0.01)`): the name and the value's text.
    NamedWithEquals(&'a str, &'a str),
    /// Nothing more specific: look at the syntax.
    CheckSyntax,
}

/// A bracket at `span` nested `depth` levels deep, past [`MAX_NESTING`] (found by the pre-scan).
pub fn brackets_too_deep(span: Span, depth: usize) -> Diag {
    Diag::new(NESTING, format!("brackets nested more than {MAX_NESTING} levels deep"))
        .at(span, format!("this bracket is {depth} levels deep"))
        .help(SPLIT_BRACKETS)
}

/// pest's own guard against deep recursion, which the pre-scan should make unreachable.
pub fn nested_too_deeply(span: Span, message: &str) -> Diag {
    Diag::new(NESTING, format!("the input is nested too deeply to parse ({message})"))
        .at(span, "while parsing this")
        .help(SPLIT_BRACKETS)
}

/// A block comment opened at `span` and never closed.
pub fn unterminated_comment(span: Span) -> Diag {
    Diag::new(PARSE, "unterminated block comment").at(span, "this comment is never closed").help("close it with `*/`")
}

/// A `\` at `span` that starts no known escape.
pub fn unknown_escape(span: Span) -> Diag {
    Diag::new(PARSE, "unknown escape sequence in a string")
        .at(span, "this `\\` starts no known escape")
        .help("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`; write `\\\\` for a backslash")
}

/// A string still open at `span`, the end of its line or, if `at_end_of_file`, of the file.
pub fn unterminated_string(span: Span, at_end_of_file: bool) -> Diag {
    let label = if at_end_of_file { "the file ends inside the string" } else { "the line ends inside the string" };
    Diag::new(PARSE, "unterminated string").at(span, label).help("close the string with `\"` on the same line")
}

/// Any other syntax error: `message` says what was expected, `found` what is at `span`.
pub fn unexpected(span: Span, message: String, found: &str, hint: Hint<'_>) -> Diag {
    let diag = Diag::new(PARSE, message).at(span, format!("unexpected {found}"));
    match hint {
        Hint::Unclosed { at, bracket } => {
            let close = match bracket {
                '(' => ')',
                '[' => ']',
                _ => '}',
            };
            diag.note(at, format!("this `{bracket}` is never closed")).help(format!("add the missing `{close}`"))
        }
        Hint::ReservedWord(word) => {
            diag.help(format!("{word} is a reserved word and cannot be used as a name; choose another name"))
        }
        Hint::CallWithSpace => diag.help("a call needs its `(` right after the function's name, with no space: `f(x)`"),
        Hint::NamedWithEquals(name, value) => {
            diag.help(format!("arguments are named with `:`, as in `{name}: {value}`"))
        }
        Hint::CheckSyntax => diag.help("check the syntax near here; see docs/LANGUAGE.md"),
    }
}

/// A dimension literal at `span` that does not fit in 64 bits.
pub fn dimension_too_large(span: Span) -> Diag {
    Diag::new(NUMBER, "dimension too large")
        .at(span, "this does not fit in 64 bits")
        .help(format!("a dimension is at most {}", u64::MAX))
}

/// A number at `span` too large for a 64-bit float.
pub fn number_too_large(span: Span) -> Diag {
    Diag::new(NUMBER, "number too large")
        .at(span, "this does not fit in a 64-bit float")
        .help(format!("the largest finite number is about {:e}", f64::MAX))
}

/// An expression tree `depth` levels deep, past [`MAX_EXPR_DEPTH`], made so at `span`.
pub fn expression_too_deep(span: Span, depth: usize) -> Diag {
    Diag::new(NESTING, format!("expression nested more than {MAX_EXPR_DEPTH} levels deep"))
        .at(span, format!("this makes it {depth} levels deep"))
        .help("split the expression into smaller pieces bound with `let` inside a block")
}

/// A comparison at `second` applied to the unparenthesised comparison at `first`.
pub fn chained_comparison(second: Span, first: Span) -> Diag {
    Diag::new(COMPARISON, "comparisons cannot be chained")
        .at(second, "second comparison")
        .note(first, "first comparison")
        .help("add parentheses to say which comparison comes first, e.g. `(a < b) == c`")
}

/// The `|>` at `pipe` into `target`, which is not a function name or a call.
pub fn pipe_target(target: Span, pipe: Span) -> Diag {
    Diag::new(PIPE, "the right side of `|>` must be a function or a call")
        .at(target, "this is not a function name or a call")
        .note(pipe, "piped here")
        .help("write `x |> f` or `x |> f(a)`, which mean `f(x)` and `f(x, a)`")
}
