//! Syntax errors: a pest error as a diagnostic that names what was expected in the user's words.

use pest::error::{ErrorVariant, InputLocation};

use super::scan::Scan;
use super::{Rule, KEYWORDS};
use crate::diag::{Diag, FileId, Span};
use crate::syntax::errors::{self, Hint};

/// Turns a pest error into a diagnostic that names what was expected in the user's words.
pub(super) fn syntax_error(err: &pest::error::Error<Rule>, source: &str, file: FileId, scan: &Scan) -> Diag {
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
            return errors::nested_too_deeply(span, message);
        }
    };
    let found = describe_found(source, pos);
    let rest = &source[pos.min(source.len())..];
    if let Some(at) = scan.open_comment.filter(|&at| pos >= at) {
        // pest could not skip the comment, so it read `/*` as operators or stray characters.
        return errors::unterminated_comment(Span::new(file, at, at + 2));
    }
    if positives.contains(&Rule::quote) && positives.contains(&Rule::escape) {
        return if rest.starts_with('\\') {
            errors::unknown_escape(span)
        } else {
            errors::unterminated_string(span, pos >= source.len())
        };
    }
    let message = if !positives.is_empty() {
        format!("expected {}", join_names(&collapse_operand_starts(positives)))
    } else if !negatives.is_empty() {
        format!("unexpected {}", join_names(negatives))
    } else {
        "syntax error".to_string()
    };
    let before = source[..pos.min(source.len())].trim_end();
    let spaced_call = rest.starts_with('(')
        && before.len() < pos
        && before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    // `f(name=value` or `f(a, name=value`: the Python habit for keyword arguments.
    let name_start = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_').len();
    let named_with_equals = rest.starts_with('=')
        && !rest.starts_with("==")
        && name_start < before.len()
        && before[..name_start].trim_end().ends_with(['(', ',']);
    let hint = match (scan.unclosed, found.strip_prefix("keyword ")) {
        (Some((at, bracket)), _) if pos >= source.len() => Hint::Unclosed { at: Span::new(file, at, at + 1), bracket },
        (_, Some(word)) if positives.contains(&Rule::ident) => Hint::ReservedWord(word),
        _ if spaced_call => Hint::CallWithSpace,
        _ if named_with_equals => {
            let value = rest[1..].split([',', ')', '\n']).next().unwrap_or("").trim();
            Hint::NamedWithEquals(&before[name_start..], if value.is_empty() { "…" } else { value })
        }
        _ => Hint::CheckSyntax,
    };
    errors::unexpected(span, message, &found, hint)
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
                | Rule::lbrace
                | Rule::paren
                | Rule::list
                | Rule::record
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
        Rule::kw_buffer => "`buffer`",
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
        Rule::op_neg | Rule::expr | Rule::paren | Rule::list | Rule::record | Rule::call => "an expression",
        Rule::field => "a field (`name: value`)",
        Rule::call_args => "an argument list",
        Rule::arg => "an argument",
        Rule::ty | Rule::ty_tensor | Rule::dtype | Rule::ty_int | Rule::ty_float => {
            "a type (`f32`, `i32`, `int` or `float`)"
        }
        Rule::formals => "a parameter list",
        Rule::formal => "a parameter",
        Rule::block => "a block",
        Rule::stmt | Rule::let_stmt | Rule::assign_stmt | Rule::state_stmt | Rule::buffer_decl => "a statement",
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
