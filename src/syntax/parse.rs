//! The parser: `grammar/grad.pest` recognises the text, then one `lower_<rule>` method per grammar
//! rule turns its pairs into the typed AST of [`super::ast`], every node with its span.
//!
//! Hostile input must not exhaust the stack, so recursion is bounded before it happens:
//! - pest recurses once per bracket, so a pre-scan rejects brackets nested deeper than
//!   [`MAX_NESTING`] before pest runs;
//! - the Pratt parser recurses along runs of `-` and `^`, and the AST's own `Drop`, `Clone` and
//!   every later pass recurse along the tree, so expression trees deeper than [`MAX_EXPR_DEPTH`]
//!   are a diagnostic (runs of `-`/`^` are counted before the Pratt parser sees them).
//!
//! Everything else in the grammar is flat repetition, which pest runs as loops.

use std::cell::Cell;

use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, ConstPrattParser, Op};
use pest::Parser as _;
use pest_derive::Parser;

use super::ast::{
    Arg, BinOp, Block, DTypeName, DataDecl, Dim, Expr, ExprKind, File, FormalParam, FuncDecl, FuncKind, Ident, Item,
    ParamDecl, Stmt, TrainBlock, TypeExpr, Use,
};
use crate::diag::{Diag, FileId, Span};

/// Deepest bracket nesting (`(`, `[` and `{` together) the parser accepts.
pub const MAX_NESTING: usize = 200;

/// Deepest expression tree the parser produces; later passes may recurse this deep.
///
/// Larger than [`MAX_NESTING`] so that the deepest accepted brackets still leave room for a few
/// operators; it is what bounds long chains such as `1+1+...+1` or `------x`.
pub const MAX_EXPR_DEPTH: usize = 256;

/// Reserved words, which are never names; must match the grammar's `keyword` rule.
pub const KEYWORDS: [&str; 13] =
    ["use", "param", "fn", "layer", "model", "optimizer", "schedule", "train", "let", "state", "then", "true", "false"];

const CODE_PARSE: &str = "gradc::syntax::parse";
const CODE_NESTING: &str = "gradc::syntax::nesting";
const CODE_NUMBER: &str = "gradc::syntax::number";
const CODE_PIPE: &str = "gradc::syntax::pipe";
const CODE_COMPARISON: &str = "gradc::syntax::comparison";
const HELP_SYNTAX: &str = "check the syntax near here; see docs/LANGUAGE.md";

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
    let scan = scan(source, file)?;
    let mut pairs = GradParser::parse(Rule::file, source).map_err(|err| syntax_error(&err, source, file, &scan))?;
    let file_pair = pairs.next().expect("grammar: a successful parse of `file` is one pair");
    Lower { file, enclosing_runs: Cell::new(0) }.lower_file(file_pair)
}

// ---------------------------------------------------------------------------------------------
// Pre-scan: bracket depth, before pest recurses into it

/// What the pre-scan learnt about a source that pest may still reject.
struct Scan {
    /// The innermost bracket still open at the end of the file, as (offset, character).
    unclosed: Option<(usize, char)>,
    /// Where a block comment starts that is never closed.
    open_comment: Option<usize>,
}

/// Walks the text as the grammar tokenises it (skipping comments and strings) and rejects bracket
/// nesting deeper than [`MAX_NESTING`], pointing at the first bracket too deep.
fn scan(source: &str, file: FileId) -> Result<Scan, Diag> {
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
                    return Err(Diag::new(
                        CODE_NESTING,
                        format!("brackets nested more than {MAX_NESTING} levels deep"),
                    )
                    .at(Span::new(file, i, i + 1), format!("this bracket is {} levels deep", open.len()))
                    .help("split the expression into smaller named pieces (`let` bindings or functions)"));
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

// ---------------------------------------------------------------------------------------------
// Syntax errors

/// Turns a pest error into a diagnostic that names what was expected in the user's words.
fn syntax_error(err: &pest::error::Error<Rule>, source: &str, file: FileId, scan: &Scan) -> Diag {
    let pos = match err.location {
        InputLocation::Pos(pos) => pos,
        InputLocation::Span((start, _)) => start,
    };
    let span = point_at(source, file, pos);
    let (positives, negatives) = match &err.variant {
        ErrorVariant::ParsingError { positives, negatives } => (positives, negatives),
        // pest's own guard against exhausting the stack or its call limit; the pre-scan should
        // make this unreachable, but a diagnostic is still better than a panic.
        ErrorVariant::CustomError { message } => {
            return Diag::new(CODE_NESTING, format!("the input is nested too deeply to parse ({message})"))
                .at(span, "while parsing this")
                .help("split the expression into smaller named pieces (`let` bindings or functions)");
        }
    };
    let found = describe_found(source, pos);
    let rest = &source[pos.min(source.len())..];
    if let Some(at) = scan.open_comment.filter(|&at| pos >= at) {
        // pest could not skip the comment, so it read `/*` as operators or stray characters.
        return Diag::new(CODE_PARSE, "unterminated block comment")
            .at(Span::new(file, at, at + 2), "this comment is never closed")
            .help("close it with `*/`");
    }
    if positives.contains(&Rule::quote) && positives.contains(&Rule::escape) {
        return if rest.starts_with('\\') {
            Diag::new(CODE_PARSE, "unknown escape sequence in a string")
                .at(span, "this `\\` starts no known escape")
                .help("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`; write `\\\\` for a backslash")
        } else {
            Diag::new(CODE_PARSE, "unterminated string")
                .at(
                    span,
                    if pos >= source.len() {
                        "the file ends inside the string"
                    } else {
                        "the line ends inside the string"
                    },
                )
                .help("close the string with `\"` on the same line")
        };
    }
    let message = if !positives.is_empty() {
        format!("expected {}", join_names(&collapse_operand_starts(positives)))
    } else if !negatives.is_empty() {
        format!("unexpected {}", join_names(negatives))
    } else {
        "syntax error".to_string()
    };
    let diag = Diag::new(CODE_PARSE, message).at(span, format!("unexpected {found}"));

    if pos >= source.len() {
        if let Some((at, bracket)) = scan.unclosed {
            let close = match bracket {
                '(' => ')',
                '[' => ']',
                _ => '}',
            };
            return diag
                .note(Span::new(file, at, at + 1), format!("this `{bracket}` is never closed"))
                .help(format!("add the missing `{close}`"));
        }
    }
    if let Some(word) = found.strip_prefix("keyword ") {
        if positives.contains(&Rule::ident) {
            return diag.help(format!("{word} is a reserved word and cannot be used as a name; choose another name"));
        }
    }
    let before = source[..pos.min(source.len())].trim_end();
    if rest.starts_with('(') && before.len() < pos && before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    {
        return diag.help("a call needs its `(` right after the function's name, with no space: `f(x)`");
    }
    diag.help(HELP_SYNTAX)
}

/// The span a syntax error points at: the character at `pos`, or the last one at the end.
fn point_at(source: &str, file: FileId, pos: usize) -> Span {
    match source.get(pos..).and_then(|rest| rest.chars().next()) {
        // Whole characters, so that a multi-byte character is never split.
        Some(c) => Span::new(file, pos, pos + c.len_utf8()),
        None => match source.char_indices().next_back() {
            Some((last, c)) => Span::new(file, last, last + c.len_utf8()),
            None => Span::new(file, 0, 0),
        },
    }
}

/// Describes the text at `pos` for a label: "`foo`", "keyword `fn`", "end of file".
fn describe_found(source: &str, pos: usize) -> String {
    let rest = source.get(pos..).unwrap_or("");
    let Some(first) = rest.chars().next() else { return "end of file".to_string() };
    if first == '\n' || first == '\r' {
        return "end of line".to_string();
    }
    if first.is_ascii_alphanumeric() || first == '_' {
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(rest.len());
        let token = &rest[..len];
        if KEYWORDS.contains(&token) {
            return format!("keyword `{token}`");
        }
        // Long tokens are cut, on an ASCII boundary since the token is all ASCII.
        return if token.len() > 40 { format!("`{}...`", &token[..40]) } else { format!("`{token}`") };
    }
    format!("`{first}`")
}

/// Where an operand may start, pest lists every way one can (a name, `(`, `"`, ...); say "an
/// expression" instead. `op_neg` is attempted exactly where an operand may start.
fn collapse_operand_starts(rules: &[Rule]) -> Vec<Rule> {
    if !rules.contains(&Rule::op_neg) {
        return rules.to_vec();
    }
    let starts_operand = |rule: &Rule| {
        matches!(
            rule,
            Rule::ident
                | Rule::number
                | Rule::bool_lit
                | Rule::string
                | Rule::quote
                | Rule::lparen
                | Rule::lbracket
                | Rule::paren
                | Rule::list
                | Rule::call
        )
    };
    rules.iter().copied().filter(|rule| !starts_operand(rule)).collect()
}

/// "A", "A or B", "A, B or C", most specific first, each name once.
fn join_names(rules: &[Rule]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for &rule in rules {
        let name = rule_name(rule);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    // Phrases ("an expression") first, then operators, then tokens, then the end of the file.
    names.sort_by_key(|name| match *name {
        "end of file" => 3,
        "an operator" => 1,
        _ if name.starts_with('`') => 2,
        _ => 0,
    });
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, init)) => format!("{} or {last}", init.join(", ")),
    }
}

/// What each rule is called in a message to the user.
fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        // Silent rules are never reported, but the table stays exhaustive so that a new rule
        // cannot be forgotten.
        Rule::WHITESPACE => "whitespace",
        Rule::COMMENT => "a comment",
        Rule::ident_char => "a letter, digit or `_`",
        Rule::infix => "an operator",
        Rule::prefix | Rule::primary => "an expression",
        Rule::body => "`=` or `{`",
        Rule::dim | Rule::dim_lit => "a dimension",
        Rule::keyword => "a reserved word",
        Rule::ident | Rule::word => "a name",
        Rule::number => "a number",
        Rule::bool_lit => "a boolean",
        Rule::string | Rule::str_text => "a string",
        Rule::escape => "an escape sequence (`\\\"`, `\\\\`, `\\n` or `\\t`)",
        Rule::quote => "`\"`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::lbracket => "`[`",
        Rule::rbracket => "`]`",
        Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        Rule::comma => "`,`",
        Rule::colon => "`:`",
        Rule::semi => "`;`",
        Rule::dot => "`.`",
        Rule::arrow => "`->`",
        Rule::glob => "`*`",
        Rule::assign => "`=`",
        Rule::kw_use => "`use`",
        Rule::kw_param => "`param`",
        Rule::kw_data => "`data`",
        Rule::kw_compare => "`compare`",
        Rule::kw_fn => "`fn`",
        Rule::kw_layer => "`layer`",
        Rule::kw_model => "`model`",
        Rule::kw_schedule => "`schedule`",
        Rule::kw_optimizer => "`optimizer`",
        Rule::kw_loss => "`loss`",
        Rule::kw_train => "`train`",
        Rule::kw_let => "`let`",
        Rule::kw_state => "`state`",
        Rule::add_assign
        | Rule::sub_assign
        | Rule::mul_assign
        | Rule::div_assign
        | Rule::op_then
        | Rule::op_pipe
        | Rule::op_eq
        | Rule::op_ne
        | Rule::op_le
        | Rule::op_ge
        | Rule::op_lt
        | Rule::op_gt
        | Rule::op_add
        | Rule::op_sub
        | Rule::op_mul
        | Rule::op_div
        | Rule::op_matmul
        | Rule::op_pow => "an operator",
        Rule::op_neg | Rule::expr | Rule::paren | Rule::list | Rule::call => "an expression",
        Rule::call_args => "an argument list",
        Rule::arg => "an argument",
        Rule::ty | Rule::ty_tensor | Rule::dtype | Rule::ty_int | Rule::ty_float => {
            "a type (`f32`, `i32`, `int` or `float`)"
        }
        Rule::formals => "a parameter list",
        Rule::formal => "a parameter",
        Rule::block => "a block",
        Rule::stmt | Rule::let_stmt | Rule::assign_stmt | Rule::state_stmt => "a statement",
        Rule::state_var => "a state variable",
        Rule::file
        | Rule::item
        | Rule::use_item
        | Rule::param_decl
        | Rule::data_item
        | Rule::func_item
        | Rule::optimizer_item
        | Rule::loss_item
        | Rule::train_item
        | Rule::compare_item => "a declaration",
        Rule::use_path => "a module path",
        Rule::use_group => "`{`",
        Rule::train_entry => "a setting (`key = value`)",
    }
}

// ---------------------------------------------------------------------------------------------
// Lowering: pairs to AST

/// Precedence, lowest first. Comparisons are non-associative: they are declared left-associative
/// here and `lower_infix` rejects a comparison whose left operand is an unparenthesised one.
static PRATT: ConstPrattParser<Rule, 15> = ConstPrattParser::new_const([
    (Op::infix(Rule::op_then, Assoc::Left), true),
    (Op::infix(Rule::op_pipe, Assoc::Left), true),
    (Op::infix(Rule::op_eq, Assoc::Left), true),
    (Op::infix(Rule::op_ne, Assoc::Left), false),
    (Op::infix(Rule::op_lt, Assoc::Left), false),
    (Op::infix(Rule::op_le, Assoc::Left), false),
    (Op::infix(Rule::op_gt, Assoc::Left), false),
    (Op::infix(Rule::op_ge, Assoc::Left), false),
    (Op::infix(Rule::op_add, Assoc::Left), true),
    (Op::infix(Rule::op_sub, Assoc::Left), false),
    (Op::infix(Rule::op_mul, Assoc::Left), true),
    (Op::infix(Rule::op_div, Assoc::Left), false),
    (Op::infix(Rule::op_matmul, Assoc::Left), false),
    (Op::prefix(Rule::op_neg), true),
    // Tighter than unary minus: `-x^2` is `-(x^2)`.
    (Op::infix(Rule::op_pow, Assoc::Right), true),
]);

/// Lowering state for one file.
struct Lower {
    file: FileId,
    /// Sum of the longest `-`/`^` runs of the expressions enclosing the one being lowered: a bound
    /// on the Pratt parser frames already on the stack (see `lower_expr`).
    enclosing_runs: Cell<usize>,
}

/// An expression under construction, with what its parent needs to know about it.
struct Operand {
    expr: Expr,
    /// Height of `expr`'s tree (a leaf is 1), kept at most [`MAX_EXPR_DEPTH`].
    depth: usize,
    /// Its text including any parentheses around it: parents span from here, and it differs from
    /// `expr.span` exactly when the expression was parenthesised.
    outer: Span,
}

impl Operand {
    fn leaf(kind: ExprKind, span: Span) -> Operand {
        Operand { expr: Expr { kind, span }, depth: 1, outer: span }
    }

    fn is_parenthesised(&self) -> bool {
        self.outer != self.expr.span
    }
}

/// Tokens that exist only so errors can name them; lowering learns nothing from them.
fn is_noise(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::lparen
            | Rule::rparen
            | Rule::lbracket
            | Rule::rbracket
            | Rule::lbrace
            | Rule::rbrace
            | Rule::comma
            | Rule::colon
            | Rule::semi
            | Rule::dot
            | Rule::arrow
            | Rule::quote
            | Rule::assign
            | Rule::kw_use
            | Rule::kw_param
            | Rule::kw_data
            | Rule::kw_compare
            | Rule::kw_optimizer
            | Rule::kw_train
            | Rule::kw_let
            | Rule::kw_state
    )
}

/// The meaningful children of a pair.
fn parts(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| !is_noise(p.as_rule()))
}

/// The next meaningful child, which the grammar guarantees is there.
fn next<'i>(parts: &mut impl Iterator<Item = Pair<'i, Rule>>, what: &str) -> Pair<'i, Rule> {
    parts.next().unwrap_or_else(|| panic!("grammar: missing {what}"))
}

/// A pair the grammar does not allow where it was found.
fn grammar_bug(pair: &Pair<'_, Rule>) -> ! {
    panic!("grammar: unexpected {:?} at {:?}", pair.as_rule(), pair.as_span())
}

fn expr_too_deep(span: Span, depth: usize) -> Diag {
    Diag::new(CODE_NESTING, format!("expression nested more than {MAX_EXPR_DEPTH} levels deep"))
        .at(span, format!("this makes it {depth} levels deep"))
        .help("split the expression into smaller pieces bound with `let` inside a block")
}

impl Lower {
    /// Where a pair's text lies: exact for tokens and for rules that end in one (`)`, `}`).
    ///
    /// A rule ending in an optional part or a repetition (`x = e`, whose `e` may continue with
    /// an operator) keeps the whitespace and comments pest skipped before trying that part, so
    /// its end can lie past the text; those rules use [`Lower::span_until`] instead.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    /// From a pair's start to `end`, the end of its last lowered part.
    fn span_until(&self, pair: &Pair<'_, Rule>, end: usize) -> Span {
        Span::new(self.file, pair.as_span().start(), end)
    }

    fn lower_file(&self, pair: Pair<'_, Rule>) -> Result<File, Diag> {
        let mut items = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::item => items.push(self.lower_item(p)?),
                Rule::EOI => {}
                _ => grammar_bug(&p),
            }
        }
        Ok(File { items })
    }

    fn lower_item(&self, pair: Pair<'_, Rule>) -> Result<Item, Diag> {
        let p = next(&mut parts(pair), "item body");
        Ok(match p.as_rule() {
            Rule::use_item => Item::Use(self.lower_use_item(p)),
            Rule::param_decl => Item::Param(self.lower_param_decl(p)?),
            Rule::data_item => Item::Data(self.lower_data_item(p)?),
            Rule::func_item => Item::Func(self.lower_func_item(p)?),
            Rule::optimizer_item => Item::Func(self.lower_optimizer_item(p)?),
            Rule::loss_item => Item::Func(self.lower_loss_item(p)?),
            Rule::train_item => Item::Train(self.lower_train_item(p)?),
            Rule::compare_item => Item::Compare(self.lower_train_item(p)?),
            _ => grammar_bug(&p),
        })
    }

    fn lower_use_item(&self, pair: Pair<'_, Rule>) -> Use {
        let span = self.span(&pair);
        let mut parts = parts(pair);
        let module = self.lower_use_path(next(&mut parts, "use path"));
        let tail = next(&mut parts, "use tail");
        let (names, glob) = match tail.as_rule() {
            Rule::glob => (vec![], true),
            Rule::use_group => (self.lower_use_group(tail), false),
            Rule::ident => (vec![self.lower_ident(tail)], false),
            _ => grammar_bug(&tail),
        };
        Use { module, names, glob, span }
    }

    fn lower_use_path(&self, pair: Pair<'_, Rule>) -> Vec<Ident> {
        parts(pair).map(|w| self.lower_ident(w)).collect()
    }

    fn lower_use_group(&self, pair: Pair<'_, Rule>) -> Vec<Ident> {
        parts(pair).map(|w| self.lower_ident(w)).collect()
    }

    /// Also lowers `word` and the `loss` keyword, which name things the same way.
    fn lower_ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(&pair) }
    }

    fn lower_param_decl(&self, pair: Pair<'_, Rule>) -> Result<ParamDecl, Diag> {
        let start = pair.clone();
        let mut parts = parts(pair);
        let name = self.lower_ident(next(&mut parts, "param name"));
        let ty = self.lower_ty(next(&mut parts, "param type"))?;
        let init = parts.next().map(|p| self.lower_expr(p)).transpose()?;
        let end = init.as_ref().map_or(ty.span().end, |init| init.outer.end);
        Ok(ParamDecl { name, ty, init: init.map(|o| o.expr), span: self.span_until(&start, end) })
    }

    fn lower_data_item(&self, pair: Pair<'_, Rule>) -> Result<DataDecl, Diag> {
        let start = pair.clone();
        let mut parts = parts(pair);
        let name = self.lower_ident(next(&mut parts, "data name"));
        let value = self.lower_expr(next(&mut parts, "data value"))?;
        Ok(DataDecl { name, span: self.span_until(&start, value.outer.end), value: value.expr })
    }

    fn lower_func_item(&self, pair: Pair<'_, Rule>) -> Result<FuncDecl, Diag> {
        let start = pair.clone();
        let mut parts = parts(pair);
        let keyword = next(&mut parts, "function keyword");
        let kind = match keyword.as_rule() {
            Rule::kw_fn => FuncKind::Fn,
            Rule::kw_layer => FuncKind::Layer,
            Rule::kw_model => FuncKind::Model,
            Rule::kw_schedule => FuncKind::Schedule,
            _ => grammar_bug(&keyword),
        };
        let name = self.lower_ident(next(&mut parts, "function name"));
        let params = self.lower_formals(next(&mut parts, "formals"))?;
        let mut ret = None;
        let mut p = next(&mut parts, "function body");
        if p.as_rule() == Rule::ty {
            ret = Some(self.lower_ty(p)?);
            p = next(&mut parts, "function body");
        }
        let (body, end) = self.lower_body(p)?;
        Ok(FuncDecl { kind, name, params, ret, body, span: self.span_until(&start, end) })
    }

    fn lower_optimizer_item(&self, pair: Pair<'_, Rule>) -> Result<FuncDecl, Diag> {
        let span = self.span(&pair);
        let mut parts = parts(pair);
        let name = self.lower_ident(next(&mut parts, "optimizer name"));
        let params = self.lower_formals(next(&mut parts, "formals"))?;
        let body = self.lower_block(next(&mut parts, "optimizer body"))?;
        Ok(FuncDecl { kind: FuncKind::Optimizer, name, params, ret: None, body, span })
    }

    fn lower_loss_item(&self, pair: Pair<'_, Rule>) -> Result<FuncDecl, Diag> {
        let start = pair.clone();
        let mut parts = parts(pair);
        // The loss is named by its keyword, which is what a user would point at.
        let name = self.lower_ident(next(&mut parts, "loss keyword"));
        let mut p = next(&mut parts, "loss body");
        let mut params = vec![];
        if p.as_rule() == Rule::formals {
            params = self.lower_formals(p)?;
            p = next(&mut parts, "loss body");
        }
        let (body, end) = self.lower_body(p)?;
        Ok(FuncDecl { kind: FuncKind::Loss, name, params, ret: None, body, span: self.span_until(&start, end) })
    }

    fn lower_train_item(&self, pair: Pair<'_, Rule>) -> Result<TrainBlock, Diag> {
        let span = self.span(&pair);
        let entries = parts(pair).map(|p| self.lower_train_entry(p)).collect::<Result<_, _>>()?;
        Ok(TrainBlock { entries, span })
    }

    fn lower_train_entry(&self, pair: Pair<'_, Rule>) -> Result<(Ident, Expr), Diag> {
        let mut parts = parts(pair);
        let key = self.lower_ident(next(&mut parts, "train key"));
        let value = self.lower_expr(next(&mut parts, "train value"))?.expr;
        Ok((key, value))
    }

    fn lower_formals(&self, pair: Pair<'_, Rule>) -> Result<Vec<FormalParam>, Diag> {
        parts(pair).map(|p| self.lower_formal(p)).collect()
    }

    fn lower_formal(&self, pair: Pair<'_, Rule>) -> Result<FormalParam, Diag> {
        let mut parts = parts(pair);
        let name = self.lower_ident(next(&mut parts, "formal name"));
        let (mut ty, mut default) = (None, None);
        for p in parts {
            match p.as_rule() {
                Rule::ty => ty = Some(self.lower_ty(p)?),
                Rule::expr => default = Some(self.lower_expr(p)?.expr),
                _ => grammar_bug(&p),
            }
        }
        Ok(FormalParam { name, ty, default })
    }

    fn lower_ty(&self, pair: Pair<'_, Rule>) -> Result<TypeExpr, Diag> {
        let p = next(&mut parts(pair), "type");
        let span = self.span(&p);
        Ok(match p.as_rule() {
            Rule::ty_tensor => self.lower_ty_tensor(p)?,
            Rule::ty_int => TypeExpr::Int(span),
            Rule::ty_float => TypeExpr::Float(span),
            _ => grammar_bug(&p),
        })
    }

    fn lower_ty_tensor(&self, pair: Pair<'_, Rule>) -> Result<TypeExpr, Diag> {
        // The last token is `]` or, for a scalar, the dtype; the pair may reach further.
        let last = pair.clone().into_inner().next_back().expect("grammar: a tensor type has a dtype");
        let span = self.span_until(&pair, last.as_span().end());
        let mut parts = parts(pair);
        let dtype = self.lower_dtype(next(&mut parts, "dtype"));
        let dims = parts
            .map(|p| match p.as_rule() {
                Rule::dim_lit => self.lower_dim_lit(p),
                Rule::ident => Ok(Dim::Var(self.lower_ident(p))),
                _ => grammar_bug(&p),
            })
            .collect::<Result<_, _>>()?;
        Ok(TypeExpr::Tensor { dtype, dims, span })
    }

    fn lower_dtype(&self, pair: Pair<'_, Rule>) -> DTypeName {
        match pair.as_str() {
            "f32" => DTypeName::F32,
            "i32" => DTypeName::I32,
            _ => grammar_bug(&pair),
        }
    }

    fn lower_dim_lit(&self, pair: Pair<'_, Rule>) -> Result<Dim, Diag> {
        let span = self.span(&pair);
        // The grammar admits only digits, so overflow is the one way this can fail.
        let size = pair.as_str().parse::<u64>().map_err(|_| {
            Diag::new(CODE_NUMBER, "dimension too large")
                .at(span, "this does not fit in 64 bits")
                .help(format!("a dimension is at most {}", u64::MAX))
        })?;
        Ok(Dim::Lit(size, span))
    }

    /// The silent `body` rule leaves one pair: the expression after `=`, or a block. Returns
    /// the block and where the body's text ends.
    fn lower_body(&self, p: Pair<'_, Rule>) -> Result<(Block, usize), Diag> {
        match p.as_rule() {
            Rule::expr => {
                let result = self.lower_expr(p)?;
                Ok((Block { stmts: vec![], result: Some(result.expr) }, result.outer.end))
            }
            Rule::block => {
                let end = p.as_span().end();
                Ok((self.lower_block(p)?, end))
            }
            _ => grammar_bug(&p),
        }
    }

    fn lower_block(&self, pair: Pair<'_, Rule>) -> Result<Block, Diag> {
        let (mut stmts, mut result) = (vec![], None);
        for p in parts(pair) {
            match p.as_rule() {
                Rule::stmt => stmts.push(self.lower_stmt(p)?),
                Rule::expr => result = Some(self.lower_expr(p)?.expr),
                _ => grammar_bug(&p),
            }
        }
        Ok(Block { stmts, result })
    }

    fn lower_stmt(&self, pair: Pair<'_, Rule>) -> Result<Stmt, Diag> {
        let p = next(&mut parts(pair), "statement");
        match p.as_rule() {
            Rule::let_stmt => self.lower_let_stmt(p),
            Rule::param_decl => Ok(Stmt::Param(self.lower_param_decl(p)?)),
            Rule::state_stmt => self.lower_state_stmt(p),
            Rule::assign_stmt => self.lower_assign_stmt(p),
            _ => grammar_bug(&p),
        }
    }

    fn lower_let_stmt(&self, pair: Pair<'_, Rule>) -> Result<Stmt, Diag> {
        let start = pair.clone();
        let mut parts = parts(pair);
        let name = self.lower_ident(next(&mut parts, "let name"));
        let value = self.lower_expr(next(&mut parts, "let value"))?;
        Ok(Stmt::Let { name, span: self.span_until(&start, value.outer.end), value: value.expr })
    }

    /// `x = e` binds; `x op= e` becomes `x = x op e`, the new nodes spanning the statement.
    fn lower_assign_stmt(&self, pair: Pair<'_, Rule>) -> Result<Stmt, Diag> {
        let start = pair.clone();
        let mut parts = parts(pair);
        let name = self.lower_ident(next(&mut parts, "assigned name"));
        let mut p = next(&mut parts, "assigned value");
        let op = match p.as_rule() {
            Rule::add_assign => Some(BinOp::Add),
            Rule::sub_assign => Some(BinOp::Sub),
            Rule::mul_assign => Some(BinOp::Mul),
            Rule::div_assign => Some(BinOp::Div),
            _ => None,
        };
        if op.is_some() {
            p = next(&mut parts, "assigned value");
        }
        let rhs = self.lower_expr(p)?;
        let span = self.span_until(&start, rhs.outer.end);
        let value = match op {
            None => rhs.expr,
            Some(op) => {
                // One level above the right side: within MAX_EXPR_DEPTH + 1, which later passes
                // tolerate as well as MAX_EXPR_DEPTH; not worth a diagnostic of its own.
                let current = Expr { kind: ExprKind::Name(name.clone()), span };
                Expr { kind: ExprKind::Binary(op, Box::new(current), Box::new(rhs.expr)), span }
            }
        };
        Ok(Stmt::Let { name, value, span })
    }

    fn lower_state_stmt(&self, pair: Pair<'_, Rule>) -> Result<Stmt, Diag> {
        let start = pair.clone();
        let mut vars = vec![];
        let mut end = start.as_span().end();
        for p in parts(pair) {
            let (name, value) = self.lower_state_var(p)?;
            end = value.outer.end;
            vars.push((name, value.expr));
        }
        Ok(Stmt::State { vars, span: self.span_until(&start, end) })
    }

    /// A state variable and its initial value, whose end is the statement's so far.
    fn lower_state_var(&self, pair: Pair<'_, Rule>) -> Result<(Ident, Operand), Diag> {
        let mut parts = parts(pair);
        let name = self.lower_ident(next(&mut parts, "state name"));
        let value = self.lower_expr(next(&mut parts, "state value"))?;
        Ok((name, value))
    }

    /// Builds the tree of a flat `expr` with the Pratt parser.
    ///
    /// The Pratt parser recurses once per pending operator. Pending operators form a chain of
    /// strictly rising precedence (at most five levels below unary minus) topped by the current
    /// run of `-` and `^`, which any other operator ends; so counting those runs, across the
    /// enclosing expressions too, bounds its recursion before it starts.
    fn lower_expr(&self, pair: Pair<'_, Rule>) -> Result<Operand, Diag> {
        let enclosing = self.enclosing_runs.get();
        let mut run = 0;
        let mut longest = 0;
        for p in pair.clone().into_inner() {
            match p.as_rule() {
                Rule::op_neg | Rule::op_pow => {
                    run += 1;
                    longest = longest.max(run);
                    if enclosing + run > MAX_EXPR_DEPTH {
                        return Err(expr_too_deep(self.span(&p), enclosing + run));
                    }
                }
                rule if is_infix(rule) => run = 0,
                _ => {}
            }
        }
        self.enclosing_runs.set(enclosing + longest);
        let lowered = PRATT
            .map_primary(|p| self.lower_primary(p))
            .map_prefix(|op, rhs| self.lower_prefix(op, rhs?))
            .map_infix(|lhs, op, rhs| self.lower_infix(lhs?, op, rhs?))
            .parse(pair.into_inner());
        self.enclosing_runs.set(enclosing);
        lowered
    }

    fn lower_primary(&self, pair: Pair<'_, Rule>) -> Result<Operand, Diag> {
        match pair.as_rule() {
            Rule::paren => self.lower_paren(pair),
            Rule::list => self.lower_list(pair),
            Rule::call => self.lower_call(pair),
            Rule::number => self.lower_number(pair),
            Rule::string => Ok(self.lower_string(pair)),
            Rule::bool_lit => Ok(self.lower_bool_lit(pair)),
            Rule::ident => {
                let ident = self.lower_ident(pair);
                let span = ident.span;
                Ok(Operand::leaf(ExprKind::Name(ident), span))
            }
            _ => grammar_bug(&pair),
        }
    }

    /// `-e`
    fn lower_prefix(&self, op: Pair<'_, Rule>, operand: Operand) -> Result<Operand, Diag> {
        let op_span = self.span(&op);
        let depth = operand.depth + 1;
        if depth > MAX_EXPR_DEPTH {
            return Err(expr_too_deep(op_span, depth));
        }
        let span = op_span.to(operand.outer);
        Ok(Operand { expr: Expr { kind: ExprKind::Neg(Box::new(operand.expr)), span }, depth, outer: span })
    }

    /// `a op b`, with `|>` rewritten into a call and chained comparisons rejected.
    fn lower_infix(&self, lhs: Operand, op: Pair<'_, Rule>, rhs: Operand) -> Result<Operand, Diag> {
        let op_span = self.span(&op);
        let span = lhs.outer.to(rhs.outer);
        let depth = lhs.depth.max(rhs.depth) + 1;
        if depth > MAX_EXPR_DEPTH {
            return Err(expr_too_deep(op_span, depth));
        }
        let bin = match op.as_rule() {
            Rule::op_pipe => return self.lower_pipe(lhs, op_span, rhs),
            Rule::op_then => BinOp::Then,
            Rule::op_eq => BinOp::Eq,
            Rule::op_ne => BinOp::Ne,
            Rule::op_lt => BinOp::Lt,
            Rule::op_le => BinOp::Le,
            Rule::op_gt => BinOp::Gt,
            Rule::op_ge => BinOp::Ge,
            Rule::op_add => BinOp::Add,
            Rule::op_sub => BinOp::Sub,
            Rule::op_mul => BinOp::Mul,
            Rule::op_div => BinOp::Div,
            Rule::op_matmul => BinOp::MatMul,
            Rule::op_pow => BinOp::Pow,
            _ => grammar_bug(&op),
        };
        if is_comparison(bin) {
            // Left-associative parsing puts an earlier comparison on the left, never the right.
            if let ExprKind::Binary(inner, _, _) = &lhs.expr.kind {
                if is_comparison(*inner) && !lhs.is_parenthesised() {
                    return Err(Diag::new(CODE_COMPARISON, "comparisons cannot be chained")
                        .at(op_span, "second comparison")
                        .note(lhs.expr.span, "first comparison")
                        .help("add parentheses to say which comparison comes first, e.g. `(a < b) == c`"));
                }
            }
        }
        let kind = ExprKind::Binary(bin, Box::new(lhs.expr), Box::new(rhs.expr));
        Ok(Operand { expr: Expr { kind, span }, depth, outer: span })
    }

    /// `a |> f` is `f(a)` and `a |> f(b)` is `f(a, b)`.
    fn lower_pipe(&self, lhs: Operand, op_span: Span, rhs: Operand) -> Result<Operand, Diag> {
        let span = lhs.outer.to(rhs.outer);
        // The call sits above `a` and keeps the height of the call on the right.
        let depth = rhs.depth.max(lhs.depth + 1);
        if depth > MAX_EXPR_DEPTH {
            return Err(expr_too_deep(op_span, depth));
        }
        let piped = Arg { name: None, value: lhs.expr };
        let kind = match rhs.expr.kind {
            ExprKind::Name(func) => ExprKind::Call { func, args: vec![piped] },
            ExprKind::Call { func, mut args } => {
                args.insert(0, piped);
                ExprKind::Call { func, args }
            }
            _ => {
                return Err(Diag::new(CODE_PIPE, "the right side of `|>` must be a function or a call")
                    .at(rhs.expr.span, "this is not a function name or a call")
                    .note(op_span, "piped here")
                    .help("write `x |> f` or `x |> f(a)`, which mean `f(x)` and `f(x, a)`"));
            }
        };
        Ok(Operand { expr: Expr { kind, span }, depth, outer: span })
    }

    /// `( e )` makes no node: the inner expression keeps its own span.
    fn lower_paren(&self, pair: Pair<'_, Rule>) -> Result<Operand, Diag> {
        let outer = self.span(&pair);
        let inner = self.lower_expr(next(&mut parts(pair), "parenthesised expression"))?;
        Ok(Operand { outer, ..inner })
    }

    fn lower_list(&self, pair: Pair<'_, Rule>) -> Result<Operand, Diag> {
        let span = self.span(&pair);
        let mut depth = 1;
        let mut items = vec![];
        for p in parts(pair) {
            let item = self.lower_expr(p)?;
            depth = depth.max(item.depth + 1);
            items.push(item.expr);
        }
        if depth > MAX_EXPR_DEPTH {
            return Err(expr_too_deep(Span::new(self.file, span.start, span.start + 1), depth));
        }
        Ok(Operand { expr: Expr { kind: ExprKind::List(items), span }, depth, outer: span })
    }

    fn lower_call(&self, pair: Pair<'_, Rule>) -> Result<Operand, Diag> {
        let span = self.span(&pair);
        let mut parts = parts(pair);
        let func = self.lower_ident(next(&mut parts, "callee"));
        let (args, args_depth) = self.lower_call_args(next(&mut parts, "call arguments"))?;
        let depth = args_depth + 1;
        if depth > MAX_EXPR_DEPTH {
            return Err(expr_too_deep(func.span, depth));
        }
        Ok(Operand { expr: Expr { kind: ExprKind::Call { func, args }, span }, depth, outer: span })
    }

    /// The arguments and the height of the tallest.
    fn lower_call_args(&self, pair: Pair<'_, Rule>) -> Result<(Vec<Arg>, usize), Diag> {
        let mut depth = 0;
        let mut args = vec![];
        for p in parts(pair) {
            let (arg, arg_depth) = self.lower_arg(p)?;
            depth = depth.max(arg_depth);
            args.push(arg);
        }
        Ok((args, depth))
    }

    /// An argument and its height.
    fn lower_arg(&self, pair: Pair<'_, Rule>) -> Result<(Arg, usize), Diag> {
        let mut parts = parts(pair);
        let mut p = next(&mut parts, "argument");
        let mut name = None;
        if p.as_rule() == Rule::word {
            name = Some(self.lower_ident(p));
            p = next(&mut parts, "argument value");
        }
        let value = self.lower_expr(p)?;
        Ok((Arg { name, value: value.expr }, value.depth))
    }

    fn lower_number(&self, pair: Pair<'_, Rule>) -> Result<Operand, Diag> {
        let span = self.span(&pair);
        let text = pair.as_str();
        let too_large = || {
            Diag::new(CODE_NUMBER, "number too large")
                .at(span, "this does not fit in a 64-bit float")
                .help(format!("the largest finite number is about {:e}", f64::MAX))
        };
        // The grammar's numbers are all valid for `f64::from_str`; only overflow remains.
        let value = text.parse::<f64>().map_err(|_| too_large())?;
        if value.is_infinite() {
            return Err(too_large());
        }
        Ok(Operand::leaf(ExprKind::Num(value), span))
    }

    fn lower_string(&self, pair: Pair<'_, Rule>) -> Operand {
        let span = self.span(&pair);
        let mut text = String::new();
        for p in parts(pair) {
            match (p.as_rule(), p.as_str()) {
                (Rule::str_text, s) => text.push_str(s),
                (Rule::escape, "\\n") => text.push('\n'),
                (Rule::escape, "\\t") => text.push('\t'),
                (Rule::escape, "\\\"") => text.push('"'),
                (Rule::escape, "\\\\") => text.push('\\'),
                _ => grammar_bug(&p),
            }
        }
        Operand::leaf(ExprKind::Str(text), span)
    }

    fn lower_bool_lit(&self, pair: Pair<'_, Rule>) -> Operand {
        Operand::leaf(ExprKind::Bool(pair.as_str() == "true"), self.span(&pair))
    }
}

fn is_infix(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::op_then
            | Rule::op_pipe
            | Rule::op_eq
            | Rule::op_ne
            | Rule::op_le
            | Rule::op_ge
            | Rule::op_lt
            | Rule::op_gt
            | Rule::op_add
            | Rule::op_sub
            | Rule::op_mul
            | Rule::op_div
            | Rule::op_matmul
            | Rule::op_pow
    )
}

fn is_comparison(op: BinOp) -> bool {
    matches!(op, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceMap;

    /// An expression as an S-expression: `(+ a (neg b))`, `(f a k:b)`, `[1 2]`.
    use crate::syntax::print::expr as sx;

    const F: FileId = FileId(0);

    fn ok(src: &str) -> File {
        parse(src, F).unwrap_or_else(|d| panic!("{}", render(src, d)))
    }

    fn err(src: &str) -> Diag {
        match parse(src, F) {
            Ok(file) => panic!("expected an error, parsed {file:?}"),
            Err(d) => d,
        }
    }

    fn render(src: &str, diag: Diag) -> String {
        let mut map = SourceMap::default();
        map.add("test.grad", src.to_string());
        diag.with_sources(&map).render_plain()
    }

    /// The result expression of `loss = <src>`, as an S-expression.
    fn ex(src: &str) -> String {
        let file = ok(&format!("loss = {src}"));
        match &file.items[..] {
            [Item::Func(f)] => sx(f.body.result.as_ref().expect("a result")),
            other => panic!("unexpected items {other:?}"),
        }
    }

    fn func(file: &File, index: usize) -> &FuncDecl {
        match &file.items[index] {
            Item::Func(f) => f,
            other => panic!("item {index} is not a function: {other:?}"),
        }
    }

    fn sp(start: usize, end: usize) -> Span {
        Span::new(F, start, end)
    }

    /// The span of the first occurrence of `needle` in `src`.
    fn find(src: &str, needle: &str) -> Span {
        let start = src.find(needle).unwrap_or_else(|| panic!("{needle:?} not in source"));
        sp(start, start + needle.len())
    }

    fn ty_text(ty: &TypeExpr) -> String {
        match ty {
            TypeExpr::Tensor { dtype, dims, .. } => {
                let dtype = match dtype {
                    DTypeName::F32 => "f32",
                    DTypeName::I32 => "i32",
                };
                let dims: Vec<String> = dims
                    .iter()
                    .map(|d| match d {
                        Dim::Lit(n, _) => n.to_string(),
                        Dim::Var(id) => id.name.clone(),
                    })
                    .collect();
                if dims.is_empty() {
                    dtype.to_string()
                } else {
                    format!("{dtype}[{}]", dims.join(", "))
                }
            }
            TypeExpr::Int(_) => "int".to_string(),
            TypeExpr::Float(_) => "float".to_string(),
        }
    }

    /// `x: f32[B, 2] = d` style summaries of formals.
    fn formals_text(params: &[FormalParam]) -> Vec<String> {
        params
            .iter()
            .map(|p| {
                let mut out = p.name.name.clone();
                if let Some(ty) = &p.ty {
                    out += &format!(": {}", ty_text(ty));
                }
                if let Some(d) = &p.default {
                    out += &format!(" = {}", sx(d));
                }
                out
            })
            .collect()
    }

    /// Statements as `name = sexpr`, `param name: ty = sexpr`, `state a = e, b = e`, then the result.
    fn block_text(block: &Block) -> Vec<String> {
        let mut out: Vec<String> = block
            .stmts
            .iter()
            .map(|s| match s {
                Stmt::Let { name, value, .. } => format!("{} = {}", name.name, sx(value)),
                Stmt::Param(p) => {
                    let init = p.init.as_ref().map(|e| format!(" = {}", sx(e))).unwrap_or_default();
                    format!("param {}: {}{init}", p.name.name, ty_text(&p.ty))
                }
                Stmt::State { vars, .. } => {
                    let vars: Vec<String> = vars.iter().map(|(n, e)| format!("{} = {}", n.name, sx(e))).collect();
                    format!("state {}", vars.join(", "))
                }
            })
            .collect();
        if let Some(result) = &block.result {
            out.push(format!("=> {}", sx(result)));
        }
        out
    }

    const EXAMPLE: &str = r#"// line comments; /* block comments */ too
use std.nn.{dense, relu}
use std.loss.cross_entropy
use std.nn.*

param theta: f32 = 0.0
param w: f32[2, 3] = normal(std: 0.1)
param b: f32[3]                      // init omitted -> None

data d = spirals(n: 200, noise: 0.2) |> standardize

fn sigmoid(x) = 1 / (1 + exp(-x))
fn softmax(x: f32[B, C]) -> f32[B, C] {
    e = exp(x - max(x, axis: 1, keepdims: true))
    e / sum(e, axis: 1, keepdims: true)
}
layer dense(x: f32[B, I], n: int, init = xavier_uniform) -> f32[B, n] {
    param w: f32[I, n] = init
    param b: f32[n] = zeros
    x @ w + b
}
model mlp(x: f32[B, 2]) -> f32[B, 2] {
    let h1 = relu(dense(x, 64, init: he_normal))
    dense(h1, 2)
}
loss = (theta - 3.0)^2                       // FuncKind::Loss, name "loss", no params
loss(x, y: i32[B]) = cross_entropy(mlp(x), y)  // also `loss(x, y) { ...block... }`
schedule constant(base, step) = base
optimizer adam(lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8) {
    state m = 0, v = 0
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g^2
    p -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
}
train {
    data = d, batch = 64, epochs = 20, shuffle = true, seed = 42
    optimizer = adam(lr: 1e-3)
    schedule = warmup(steps: 200) then cosine(min: 1e-5)
    metrics = [accuracy]
}
"#;

    // --- Declarations --------------------------------------------------------------------------

    #[test]
    fn empty_and_comment_only_files_have_no_items() {
        for src in ["", "  \n\t\r\n", "// nothing\n", "/* a */ /* b\n c */ // d"] {
            assert_eq!(ok(src), File { items: vec![] }, "{src:?}");
        }
    }

    #[test]
    fn the_whole_example_parses() {
        let file = ok(EXAMPLE);
        let kinds: Vec<String> = file
            .items
            .iter()
            .map(|item| match item {
                Item::Use(_) => "use".to_string(),
                Item::Param(p) => format!("param {}", p.name.name),
                Item::Data(d) => format!("data {}", d.name.name),
                Item::Func(f) => format!("{:?} {}", f.kind, f.name.name),
                Item::Train(_) => "train".to_string(),
                Item::Compare(_) => "compare".to_string(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "use",
                "use",
                "use",
                "param theta",
                "param w",
                "param b",
                "data d",
                "Fn sigmoid",
                "Fn softmax",
                "Layer dense",
                "Model mlp",
                "Loss loss",
                "Loss loss",
                "Schedule constant",
                "Optimizer adam",
                "train",
            ]
        );
        assert_all_spans_in(EXAMPLE, &file);
    }

    #[test]
    fn use_forms() {
        let src = "use std.nn.{dense, relu,}\nuse std.loss.cross_entropy\nuse std.nn.*\nuse a.b.c.d";
        let file = ok(src);
        let uses: Vec<(Vec<String>, Vec<String>, bool, Span)> = file
            .items
            .iter()
            .map(|item| match item {
                Item::Use(u) => (
                    u.module.iter().map(|m| m.name.clone()).collect(),
                    u.names.iter().map(|n| n.name.clone()).collect(),
                    u.glob,
                    u.span,
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(uses[0], (s(&["std", "nn"]), s(&["dense", "relu"]), false, find(src, "use std.nn.{dense, relu,}")));
        assert_eq!(
            uses[1],
            (s(&["std", "loss"]), s(&["cross_entropy"]), false, find(src, "use std.loss.cross_entropy"))
        );
        assert_eq!(uses[2], (s(&["std", "nn"]), s(&[]), true, find(src, "use std.nn.*")));
        assert_eq!(uses[3], (s(&["a", "b", "c"]), s(&["d"]), false, find(src, "use a.b.c.d")));
        let Item::Use(u) = &file.items[0] else { unreachable!() };
        assert_eq!(u.names[1].span, find(src, "relu"));
    }

    #[test]
    fn params_at_top_level() {
        let src =
            "param theta: f32 = 0.0\nparam w: f32[2, 3] = normal(std: 0.1)\nparam b: f32[3]  // none\nparam k: i32[B]";
        let file = ok(src);
        let params: Vec<String> = file
            .items
            .iter()
            .map(|item| match item {
                Item::Param(p) => {
                    let init = p.init.as_ref().map(|e| format!(" = {}", sx(e))).unwrap_or_default();
                    format!("{}: {}{init}", p.name.name, ty_text(&p.ty))
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(params, ["theta: f32 = 0", "w: f32[2, 3] = (normal std:0.1)", "b: f32[3]", "k: i32[B]"]);
        let Item::Param(w) = &file.items[1] else { unreachable!() };
        assert_eq!(w.span, find(src, "param w: f32[2, 3] = normal(std: 0.1)"));
        assert_eq!(w.ty.span(), find(src, "f32[2, 3]"));
        let TypeExpr::Tensor { dims, .. } = &w.ty else { unreachable!() };
        assert_eq!(dims[1], Dim::Lit(3, find(src, "3]").start_len(1)));
        let Item::Param(b) = &file.items[2] else { unreachable!() };
        assert_eq!(b.span, find(src, "param b: f32[3]"), "a trailing comment is not part of the item");
    }

    trait StartLen {
        fn start_len(self, len: usize) -> Span;
    }
    impl StartLen for Span {
        fn start_len(self, len: usize) -> Span {
            Span::new(self.file, self.start, self.start + len)
        }
    }

    #[test]
    fn data_with_a_pipe() {
        let src = "data d = spirals(n: 200, noise: 0.2) |> standardize |> split(train: 0.8, val: 0.2)";
        let file = ok(src);
        let Item::Data(d) = &file.items[0] else { panic!("{file:?}") };
        assert_eq!(d.name.name, "d");
        assert_eq!(sx(&d.value), "(split (standardize (spirals n:200 noise:0.2)) train:0.8 val:0.2)");
        assert_eq!(d.span, sp(0, src.len()));
        assert_eq!(d.value.span, sp(9, src.len()), "a piped call spans the whole pipeline");
    }

    #[test]
    fn function_with_an_expression_body() {
        let src = "fn sigmoid(x) = 1 / (1 + exp(-x))";
        let file = ok(src);
        let f = func(&file, 0);
        assert_eq!((f.kind, f.name.name.as_str(), f.name.span), (FuncKind::Fn, "sigmoid", find(src, "sigmoid")));
        assert_eq!(formals_text(&f.params), ["x"]);
        assert_eq!(f.ret, None);
        assert!(f.body.stmts.is_empty());
        assert_eq!(block_text(&f.body), ["=> (/ 1 (+ 1 (exp (neg x))))"]);
        assert_eq!(f.span, sp(0, src.len()));
    }

    #[test]
    fn function_with_types_and_a_block() {
        let file = ok(EXAMPLE);
        let f = func(&file, 8);
        assert_eq!(f.kind, FuncKind::Fn);
        assert_eq!(formals_text(&f.params), ["x: f32[B, C]"]);
        assert_eq!(f.ret.as_ref().map(ty_text).as_deref(), Some("f32[B, C]"));
        assert_eq!(
            block_text(&f.body),
            ["e = (exp (- x (max x axis:1 keepdims:true)))", "=> (/ e (sum e axis:1 keepdims:true))"]
        );
        let start = EXAMPLE.find("fn softmax").unwrap();
        let end = EXAMPLE[start..].find("}\n").unwrap() + start + 1;
        assert_eq!(f.span, sp(start, end), "the item spans from its keyword to its closing brace");
    }

    #[test]
    fn layer_with_params_defaults_and_an_int_formal() {
        let file = ok(EXAMPLE);
        let f = func(&file, 9);
        assert_eq!(f.kind, FuncKind::Layer);
        assert_eq!(formals_text(&f.params), ["x: f32[B, I]", "n: int", "init = xavier_uniform"]);
        assert_eq!(f.ret.as_ref().map(ty_text).as_deref(), Some("f32[B, n]"));
        assert_eq!(block_text(&f.body), ["param w: f32[I, n] = init", "param b: f32[n] = zeros", "=> (+ (@ x w) b)"]);
        let Stmt::Param(w) = &f.body.stmts[0] else { unreachable!() };
        assert_eq!(w.span, find(EXAMPLE, "param w: f32[I, n] = init"));
    }

    #[test]
    fn model_with_let() {
        let file = ok(EXAMPLE);
        let f = func(&file, 10);
        assert_eq!((f.kind, f.name.name.as_str()), (FuncKind::Model, "mlp"));
        assert_eq!(block_text(&f.body), ["h1 = (relu (dense x 64 init:he_normal))", "=> (dense h1 2)"]);
        let Stmt::Let { span, .. } = &f.body.stmts[0] else { unreachable!() };
        assert_eq!(*span, find(EXAMPLE, "let h1 = relu(dense(x, 64, init: he_normal))"));
    }

    #[test]
    fn loss_forms() {
        let src =
            "loss = (theta - 3.0)^2\nloss(x, y: i32[B],) = cross_entropy(mlp(x), y)\nloss(x) {\n  h = f(x)\n  h * h\n}";
        let file = ok(src);
        let a = func(&file, 0);
        assert_eq!((a.kind, a.name.name.as_str(), a.name.span), (FuncKind::Loss, "loss", sp(0, 4)));
        assert!(a.params.is_empty());
        assert_eq!(block_text(&a.body), ["=> (^ (- theta 3) 2)"]);
        assert_eq!(a.span, find(src, "loss = (theta - 3.0)^2"));
        let b = func(&file, 1);
        assert_eq!(b.name.span, find(src, "loss(x, y").start_len(4));
        assert_eq!(formals_text(&b.params), ["x", "y: i32[B]"]);
        assert_eq!(block_text(&b.body), ["=> (cross_entropy (mlp x) y)"]);
        let c = func(&file, 2);
        assert_eq!(block_text(&c.body), ["h = (f x)", "=> (* h h)"]);
        assert_eq!(c.span.end, src.len());
    }

    #[test]
    fn schedule_and_optimizer() {
        let file = ok(EXAMPLE);
        let s = func(&file, 13);
        assert_eq!((s.kind, s.name.name.as_str()), (FuncKind::Schedule, "constant"));
        assert_eq!(formals_text(&s.params), ["base", "step"]);
        assert_eq!(block_text(&s.body), ["=> base"]);
        let o = func(&file, 14);
        assert_eq!((o.kind, o.name.name.as_str(), o.ret.as_ref()), (FuncKind::Optimizer, "adam", None));
        assert_eq!(formals_text(&o.params), ["lr = 0.001", "beta1 = 0.9", "beta2 = 0.999", "eps = 0.00000001"]);
        assert_eq!(
            block_text(&o.body),
            [
                "state m = 0, v = 0",
                "m = (+ (* beta1 m) (* (- 1 beta1) g))",
                "v = (+ (* beta2 v) (* (- 1 beta2) (^ g 2)))",
                "p = (- p (/ (* lr (/ m (- 1 (^ beta1 t)))) (+ (sqrt (/ v (- 1 (^ beta2 t)))) eps)))",
            ]
        );
        let Stmt::State { span, .. } = &o.body.stmts[0] else { unreachable!() };
        assert_eq!(*span, find(EXAMPLE, "state m = 0, v = 0"));
    }

    #[test]
    fn compound_assignment_desugars_with_statement_spans() {
        for (op, bin) in [("+=", BinOp::Add), ("-=", BinOp::Sub), ("*=", BinOp::Mul), ("/=", BinOp::Div)] {
            let src = format!("optimizer o() {{ p {op} lr * g }}");
            let file = ok(&src);
            let stmt_span = find(&src, &format!("p {op} lr * g"));
            let Stmt::Let { name, value, span } = &func(&file, 0).body.stmts[0] else { panic!() };
            let p = stmt_span.start_len(1);
            assert_eq!((name.name.as_str(), name.span, *span), ("p", p, stmt_span));
            let ExprKind::Binary(got, lhs, rhs) = &value.kind else { panic!("{value:?}") };
            assert_eq!(*got, bin);
            assert_eq!(value.span, stmt_span, "the synthesized operation spans the statement");
            assert_eq!(lhs.span, stmt_span, "so does the synthesized read of `p`");
            assert!(matches!(&lhs.kind, ExprKind::Name(id) if id.name == "p" && id.span == p));
            assert_eq!(rhs.span, find(&src, "lr * g"));
        }
    }

    #[test]
    fn train_block() {
        let src = "train {\n  data = d, batch = 64,\n  optimizer = adam(lr: 1e-3)\n  schedule = warmup(linear, steps: 200) then cosine(min: 1e-5),\n  early_stop = patience(3, on: val_loss)\n  metrics = [accuracy, loss,]\n}";
        let file = ok(src);
        let Item::Train(t) = &file.items[0] else { panic!() };
        let entries: Vec<String> = t.entries.iter().map(|(k, v)| format!("{} = {}", k.name, sx(v))).collect();
        assert_eq!(
            entries,
            [
                "data = d",
                "batch = 64",
                "optimizer = (adam lr:0.001)",
                "schedule = (then (warmup linear steps:200) (cosine min:0.00001))",
                "early_stop = (patience 3 on:val_loss)",
                "metrics = [accuracy loss]",
            ]
        );
        assert_eq!(t.span, sp(0, src.len()));
        assert_eq!(t.entries[2].0.span, find(src, "optimizer"));
        let file = ok("train {}");
        assert_eq!(file.items, [Item::Train(TrainBlock { entries: vec![], span: sp(0, 8) })]);
    }

    // --- Names and keywords --------------------------------------------------------------------

    #[test]
    fn reserved_words_are_not_names() {
        for kw in KEYWORDS {
            let d = err(&format!("fn f(x) {{ let {kw} = 1; x }}"));
            assert_eq!(d.code, CODE_PARSE, "{kw}");
            assert_eq!(d.label.as_ref().map(|l| l.0), Some(sp(14, 15)), "{kw}");
            let d = err(&format!("fn {kw}(x) = x"));
            assert_eq!(d.code, CODE_PARSE, "{kw}");
        }
    }

    #[test]
    fn words_that_start_with_keywords_are_names() {
        for name in ["params", "losses", "model_a", "used", "fn2", "then_", "truely", "falsey", "lets", "states", "_"] {
            assert_eq!(ex(name), name);
            assert_eq!(ex(&format!("{name}(1)")), format!("({name} 1)"));
        }
        // ... so they do not start declarations either.
        for src in ["losses = 1", "database d = x", "model_a m(x) = x", "params w: f32"] {
            assert_eq!(err(src).message, "expected a declaration", "{src}");
        }
    }

    #[test]
    fn data_and_loss_are_names_outside_item_starts() {
        let src = "fn f(data, loss) {\n  loss = data * 2\n  loss\n}\nloss = val_loss + loss(data)";
        let file = ok(src);
        assert_eq!(formals_text(&func(&file, 0).params), ["data", "loss"]);
        assert_eq!(block_text(&func(&file, 0).body), ["loss = (* data 2)", "=> loss"]);
        assert_eq!(block_text(&func(&file, 1).body), ["=> (+ val_loss (loss data))"]);
        assert_eq!(ex("patience(3, on: val_loss)"), "(patience 3 on:val_loss)");
        // A label may be any word, even a reserved one: `split(train: 0.8)`.
        assert_eq!(ex("split(train: 0.8, val: 0.2)"), "(split train:0.8 val:0.2)");
    }

    // --- Literals and types ---------------------------------------------------------------------

    #[test]
    fn numbers() {
        for (text, value) in
            [("3", 3.0), ("3.0", 3.0), ("1e-3", 1e-3), ("2.5E+4", 2.5e4), ("0.5e2", 50.0), ("007", 7.0)]
        {
            let file = ok(&format!("loss = {text}"));
            let result = func(&file, 0).body.result.clone().unwrap();
            assert_eq!(result.kind, ExprKind::Num(value), "{text}");
            assert_eq!(result.span, sp(7, 7 + text.len()));
        }
        assert_eq!(ex("1.7976931348623157e308"), format!("{}", f64::MAX));
    }

    #[test]
    fn numbers_too_large_are_diagnostics() {
        for text in ["1e309", "1e99999999999999999999", &"9".repeat(400)] {
            let d = err(&format!("loss = 2 * {text}"));
            assert_eq!(d.code, CODE_NUMBER);
            assert_eq!(d.label.unwrap().0, sp(11, 11 + text.len()));
        }
        let d = err("param w: f32[18446744073709551616]");
        assert_eq!((d.code, d.label.unwrap().0), (CODE_NUMBER, sp(13, 33)));
        let file = ok("param w: f32[18446744073709551615]");
        let Item::Param(p) = &file.items[0] else { panic!() };
        assert!(matches!(&p.ty, TypeExpr::Tensor { dims, .. } if dims[0] == Dim::Lit(u64::MAX, sp(13, 33))));
    }

    #[test]
    fn strings_and_escapes() {
        let file = ok(r#"loss = f("a\"b\\c\nd\te", "", "λ // not a comment (")"#);
        let result = func(&file, 0).body.result.clone().unwrap();
        let ExprKind::Call { args, .. } = &result.kind else { panic!() };
        let texts: Vec<&ExprKind> = args.iter().map(|a| &a.value.kind).collect();
        assert_eq!(
            texts,
            [
                &ExprKind::Str("a\"b\\c\nd\te".to_string()),
                &ExprKind::Str(String::new()),
                &ExprKind::Str("λ // not a comment (".to_string())
            ]
        );
        assert_eq!(args[0].value.span, sp(9, 24));
    }

    #[test]
    fn bools() {
        assert_eq!(ex("f(true, false)"), "(f true false)");
        let file = ok("loss = true");
        assert_eq!(func(&file, 0).body.result.as_ref().unwrap().kind, ExprKind::Bool(true));
    }

    #[test]
    fn types() {
        let src = "fn f(a: f32, b: i32, c: f32[B, 2], d: i32[B], e: int, g: float, h: f32[], k: f32[n,],) = a";
        let file = ok(src);
        assert_eq!(
            formals_text(&func(&file, 0).params),
            ["a: f32", "b: i32", "c: f32[B, 2]", "d: i32[B]", "e: int", "g: float", "h: f32", "k: f32[n]"]
        );
        let params = &func(&file, 0).params;
        assert_eq!(params[2].ty.as_ref().unwrap().span(), find(src, "f32[B, 2]"));
        assert_eq!(params[4].ty, Some(TypeExpr::Int(find(src, "int"))));
        assert_eq!(params[5].ty, Some(TypeExpr::Float(find(src, "float"))));
        let TypeExpr::Tensor { dims, .. } = params[2].ty.as_ref().unwrap() else { panic!() };
        assert_eq!(dims[0], Dim::Var(Ident { name: "B".into(), span: find(src, "B, 2").start_len(1) }));
    }

    #[test]
    fn formals_with_types_and_defaults() {
        let file = ok("fn f(x: f32[B] = zeros, n: int = 3, lr = 1e-3) = x\nfn g() = 1");
        assert_eq!(formals_text(&func(&file, 0).params), ["x: f32[B] = zeros", "n: int = 3", "lr = 0.001"]);
        assert!(func(&file, 1).params.is_empty());
    }

    // --- Expressions ----------------------------------------------------------------------------

    #[test]
    fn precedence_and_associativity() {
        let cases = [
            ("a + b * c", "(+ a (* b c))"),
            ("a * b + c", "(+ (* a b) c)"),
            ("a - b - c", "(- (- a b) c)"),
            ("a / b / c", "(/ (/ a b) c)"),
            ("a @ b * c", "(* (@ a b) c)"),
            ("x @ w + b", "(+ (@ x w) b)"),
            ("a ^ b ^ c", "(^ a (^ b c))"),
            ("-x^2", "(neg (^ x 2))"),
            ("2^-1", "(^ 2 (neg 1))"),
            ("2^-x^2", "(^ 2 (neg (^ x 2)))"),
            ("-a * b", "(* (neg a) b)"),
            ("- - x", "(neg (neg x))"),
            ("a - -b", "(- a (neg b))"),
            ("a + b < c * d", "(< (+ a b) (* c d))"),
            ("a == b", "(== a b)"),
            ("a != b", "(!= a b)"),
            ("a <= b", "(<= a b)"),
            ("a >= b", "(>= a b)"),
            ("a > b", "(> a b)"),
            ("a < b |> f", "(f (< a b))"),
            ("a |> f then b |> g", "(then (f a) (g b))"),
            ("a then b then c", "(then (then a b) c)"),
            ("x |> f |> g(1)", "(g (f x) 1)"),
            ("x |> f(a, k: b)", "(f x a k:b)"),
            ("x |> (f)", "(f x)"),
            ("(a + b) * c", "(* (+ a b) c)"),
            ("((a))", "a"),
            ("(a < b) == (c < d)", "(== (< a b) (< c d))"),
            ("(a < b) < c", "(< (< a b) c)"),
            ("[1, 2 + 3, [x],]", "[1 (+ 2 3) [x]]"),
            ("[]", "[]"),
            ("f()", "(f)"),
            ("f(1, k: 2,)", "(f 1 k:2)"),
            ("f(g(h(x)))", "(f (g (h x)))"),
            ("a/*c*/+//c\nb", "(+ a b)"),
        ];
        for (src, want) in cases {
            assert_eq!(ex(src), want, "{src}");
        }
    }

    #[test]
    fn spans_of_expressions() {
        let src = "loss = (a + b) * -c";
        let e = func(&ok(src), 0).body.result.clone().unwrap();
        assert_eq!(e.span, find(src, "(a + b) * -c"), "a parent spans its operands' parentheses");
        let ExprKind::Binary(_, l, r) = &e.kind else { panic!() };
        assert_eq!(l.span, find(src, "a + b"), "parentheses make no node and are not in the inner span");
        assert_eq!(r.span, find(src, "-c"));
        let src = "loss = f(x, k: y)";
        let e = func(&ok(src), 0).body.result.clone().unwrap();
        let ExprKind::Call { func: callee, args } = &e.kind else { panic!() };
        assert_eq!(e.span, find(src, "f(x, k: y)"));
        assert_eq!(callee.span, sp(7, 8));
        assert_eq!(args[1].name.as_ref().unwrap().span, find(src, "k"));
        assert_eq!(args[1].value.span, find(src, "y"));
    }

    #[test]
    fn chained_comparisons_are_rejected() {
        for src in ["a < b < c", "a == b != c", "a <= b + 1 >= c", "(x) < y < z"] {
            let d = err(&format!("loss = {src}"));
            assert_eq!(d.code, CODE_COMPARISON, "{src}");
        }
    }

    #[test]
    fn pipe_needs_a_function_on_the_right() {
        for src in ["x |> 3", "x |> f + 1", "x |> -f", "x |> [f]", "x |> \"f\""] {
            let d = err(&format!("loss = {src}"));
            assert_eq!(d.code, CODE_PIPE, "{src}");
        }
    }

    #[test]
    fn a_call_needs_its_paren_right_after_the_name() {
        // In a block, `g` then `(x)` on the next line are a statement and the result.
        let file = ok("fn f(x) {\n  y = g\n  (x)\n}");
        assert_eq!(block_text(&func(&file, 0).body), ["y = g", "=> x"]);
        let d = err("loss = f (x)");
        assert_eq!(d.label.as_ref().unwrap().0, sp(9, 10));
        assert!(d.help.unwrap().contains("right after"));
    }

    #[test]
    fn statements_separated_by_newlines_or_semicolons() {
        let file = ok("fn f(x) { a = 1; let b = 2;; c += a\n param w: f32 ; a + b; }\nfn g(x) { a = x }\nfn h(x) {}");
        assert_eq!(block_text(&func(&file, 0).body), ["a = 1", "b = 2", "c = (+ c a)", "param w: f32", "=> (+ a b)"]);
        assert_eq!(block_text(&func(&file, 1).body), ["a = x"]);
        assert_eq!(func(&file, 2).body, Block { stmts: vec![], result: None });
    }

    #[test]
    fn a_result_must_come_last() {
        let d = err("fn f(x) {\n  x\n  y = 1\n}");
        assert_eq!((d.code, d.label.unwrap().0), (CODE_PARSE, sp(16, 17)));
    }

    // --- Errors ---------------------------------------------------------------------------------

    #[test]
    fn syntax_errors_point_at_the_offending_character() {
        let d = err("data d spirals(n: 1)");
        assert_eq!((d.code, d.message.as_str(), d.label.unwrap().0), (CODE_PARSE, "expected `=`", sp(7, 8)));
        let d = err("loss = f(1, λ)");
        assert_eq!(d.label.unwrap().0, sp(12, 14), "a multi-byte character is pointed at whole");
        let d = err("loss = (1 + 2");
        assert_eq!(d.label.as_ref().unwrap().0, sp(12, 13), "the end of the file is shown on the last character");
        assert_eq!(d.notes, [(sp(7, 8), "this `(` is never closed".to_string())]);
        let d = err("loss = 1 +\n");
        assert_eq!(d.label.unwrap().0, sp(10, 11));
        assert_eq!(err("loss = 1 + ").message, "expected an expression");
    }

    #[test]
    fn messages_name_rules_in_words() {
        assert_eq!(err("loss = f(1 2)").message, "expected an operator, `)` or `,`");
        assert_eq!(err("loss = [1 2]").message, "expected an operator, `]` or `,`");
        assert_eq!(err("fn f(x: f33) = x").message, "expected a type (`f32`, `i32`, `int` or `float`)");
        assert_eq!(err("fn (x) = x").message, "expected a name");
        assert_eq!(err("x = 1").message, "expected a declaration");
        assert_eq!(err("train {}\nx = 1").message, "expected a declaration or end of file");
        assert_eq!(err("fn f(x) x").message, "expected `{`, `->` or `=`");
        assert_eq!(err("/* open").message, "unterminated block comment");
        let d = err("loss = 1 /* open\n x");
        assert_eq!((d.message.as_str(), d.label.unwrap().0), ("unterminated block comment", sp(9, 11)));
        assert_eq!(err("loss = 1 $ /* open").message, "expected a declaration, an operator or end of file");
        assert_eq!(err("loss = \"open\nx").message, "unterminated string");
        assert_eq!(err(r#"loss = "a\q""#).message, "unknown escape sequence in a string");
    }

    // --- Hostile input --------------------------------------------------------------------------

    #[test]
    fn brackets_nested_too_deep() {
        let n = 100_000;
        let src = format!("loss = {}x{}", "(".repeat(n), ")".repeat(n));
        let d = err(&src);
        assert_eq!(d.code, CODE_NESTING);
        let at = 7 + MAX_NESTING;
        assert_eq!(d.label.unwrap().0, sp(at, at + 1), "points at the first bracket too deep");
        // Brackets in comments and strings do not count.
        let hidden = format!("// {}\n/* {} */\nloss = f(\"{}\")", "(".repeat(300), "[".repeat(300), "{".repeat(300));
        ok(&hidden);
        let d = err(&format!("fn f(x) {{ y = [{} }}", "[".repeat(300)));
        assert_eq!(d.code, CODE_NESTING);
    }

    #[test]
    fn deepest_accepted_nesting_parses_even_on_a_small_stack() {
        // `parse` brings its own stack: a caller on 256 KiB is fine (a debug build needs ~2 MiB).
        let small = std::thread::Builder::new().stack_size(256 << 10);
        small.spawn(deepest_accepted_nesting).unwrap().join().unwrap();
    }

    fn deepest_accepted_nesting() {
        let depth = MAX_NESTING - 2; // `loss(...) { ... }`: braces and formals count too.
        let parens = format!("loss = {}x{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(ex(&parens[7..]), "x");
        let calls = format!("fn f(x) {{ {}x{} }}", "f(".repeat(depth), ")".repeat(depth));
        ok(&calls);
        // 180 brackets, and a tree 241 deep: each repetition is `neg`, `neg`, a call and a list.
        let mixed = format!("loss = {}x{}", "-f([(-".repeat(60), ")])".repeat(60));
        ok(&mixed);
        let too_deep = format!("loss = {}x{}", "(".repeat(MAX_NESTING + 1), ")".repeat(MAX_NESTING + 1));
        assert_eq!(err(&too_deep).code, CODE_NESTING);
    }

    #[test]
    fn long_operator_runs_are_bounded() {
        let minus = format!("loss = {}x", "-".repeat(100_000));
        let d = err(&minus);
        assert_eq!(d.code, CODE_NESTING);
        let at = 7 + MAX_EXPR_DEPTH;
        assert_eq!(d.label.unwrap().0, sp(at, at + 1));
        let pow = format!("loss = x{}", "^x".repeat(100_000));
        assert_eq!(err(&pow).code, CODE_NESTING);
        let mixed = format!("loss = x{}", "^-x".repeat(100_000));
        assert_eq!(err(&mixed).code, CODE_NESTING);
        // Runs inside nested brackets add up.
        let nested = format!("loss = {}x{}", "--------(".repeat(100), ")".repeat(100));
        assert_eq!(err(&nested).code, CODE_NESTING);
        // Up to the limit is fine.
        let fine = format!("loss = {}x", "-".repeat(MAX_EXPR_DEPTH - 1));
        ok(&fine);
    }

    #[test]
    fn long_flat_chains_are_linear_and_bounded() {
        // 1 MB on one line: pest and the Pratt loop are linear; the tree would be 500,000 deep.
        let src = format!("loss = 1{}", "+1".repeat(500_000));
        let d = err(&src);
        assert_eq!(d.code, CODE_NESTING);
        let ok_chain = format!("loss = 1{}", "+1".repeat(MAX_EXPR_DEPTH - 1));
        ok(&ok_chain);
        // Wide is fine where deep is not: a list of 100,000 elements is two levels deep.
        let list = format!("loss = [{}]", "1,".repeat(100_000));
        let file = ok(&list);
        assert!(matches!(&func(&file, 0).body.result.as_ref().unwrap().kind, ExprKind::List(v) if v.len() == 100_000));
    }

    // --- Spans ----------------------------------------------------------------------------------

    /// Every span lies within the source, in file F, and on character boundaries.
    fn assert_all_spans_in(src: &str, file: &File) {
        let text = format!("{file:?}");
        let mut rest = text.as_str();
        let mut count = 0;
        while let Some(i) = rest.find("Span { file: FileId(") {
            rest = &rest[i..];
            let end = rest.find('}').unwrap();
            let fields: Vec<usize> =
                rest[..end].split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect();
            let [file_id, start, end_] = fields[..] else { panic!("{fields:?}") };
            assert_eq!(file_id, 0);
            assert!(start <= end_ && end_ <= src.len() && src.is_char_boundary(start) && src.is_char_boundary(end_));
            rest = &rest[end..];
            count += 1;
        }
        assert!(count > 100, "{count}");
    }

    // --- Rendered diagnostics -------------------------------------------------------------------

    fn snapshot_of(src: &str) -> String {
        format!("{src}\n---\n{}", render(src, err(src)))
    }

    #[test]
    fn snapshot_missing_equals() {
        insta::assert_snapshot!(snapshot_of("param theta: f32 0.0\nloss = (theta - 3.0)^2\n"));
    }

    #[test]
    fn snapshot_unclosed_brace() {
        insta::assert_snapshot!(snapshot_of("model mlp(x: f32[B, 2]) -> f32[B, 2] {\n    let h = relu(x)\n    h\n"));
    }

    #[test]
    fn snapshot_bad_token() {
        insta::assert_snapshot!(snapshot_of("loss = (theta - 3.0) $ 2\n"));
    }

    #[test]
    fn snapshot_number_too_large() {
        insta::assert_snapshot!(snapshot_of("param theta: f32 = 1e999\n"));
    }

    #[test]
    fn snapshot_nesting_too_deep() {
        let src = format!("loss =\n{}x{}\n", "(\n".repeat(MAX_NESTING + 1), ")".repeat(MAX_NESTING + 1));
        insta::assert_snapshot!(render(&src, err(&src)));
    }

    #[test]
    fn snapshot_expression_too_deep() {
        let src = format!("loss = x\n{}", "    + x\n".repeat(MAX_EXPR_DEPTH));
        insta::assert_snapshot!(render(&src, err(&src)));
    }

    #[test]
    fn snapshot_reserved_word() {
        insta::assert_snapshot!(snapshot_of("fn f(x) {\n    let state = x\n    state\n}\n"));
    }

    #[test]
    fn snapshot_call_with_space() {
        insta::assert_snapshot!(snapshot_of("loss = cross_entropy (mlp(x), y)\n"));
    }

    #[test]
    fn snapshot_chained_comparison() {
        insta::assert_snapshot!(snapshot_of("loss = a < b < c\n"));
    }

    #[test]
    fn snapshot_pipe_target() {
        insta::assert_snapshot!(snapshot_of("data d = spirals(n: 200) |> 0.5\n"));
    }

    #[test]
    fn snapshot_unterminated_string() {
        insta::assert_snapshot!(snapshot_of("data d = csv(\"data/digits.csv, label: 0)\ntrain { data = d }\n"));
    }

    #[test]
    fn snapshot_misplaced_quote() {
        insta::assert_snapshot!(snapshot_of("data d = csv(\"data/digits.csv, label: \"label\")\n"));
    }
}
