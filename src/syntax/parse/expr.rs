//! Lowering of expressions: the flat `expr` pairs built into trees by the Pratt parser, with
//! the depth bounds that keep later recursion safe.

use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, ConstPrattParser, Op};

use super::lower::{grammar_bug, next, parts, Lower};
use super::{Rule, MAX_EXPR_DEPTH};
use crate::diag::{Diag, Span};
use crate::syntax::ast::{Arg, BinOp, Expr, ExprKind};
use crate::syntax::errors;

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

/// An expression under construction, with what its parent needs to know about it.
pub(super) struct Operand {
    pub(super) expr: Expr,
    /// Height of `expr`'s tree (a leaf is 1), kept at most [`MAX_EXPR_DEPTH`].
    pub(super) depth: usize,
    /// Its text including any parentheses around it: parents span from here, and it differs from
    /// `expr.span` exactly when the expression was parenthesised.
    pub(super) outer: Span,
}

impl Operand {
    pub(super) fn leaf(kind: ExprKind, span: Span) -> Operand {
        Operand { expr: Expr { kind, span }, depth: 1, outer: span }
    }

    fn is_parenthesised(&self) -> bool {
        self.outer != self.expr.span
    }
}
impl Lower {
    /// Builds the tree of a flat `expr` with the Pratt parser.
    ///
    /// The Pratt parser recurses once per pending operator. Pending operators form a chain of
    /// strictly rising precedence (at most five levels below unary minus) topped by the current
    /// run of `-` and `^`, which any other operator ends; so counting those runs, across the
    /// enclosing expressions too, bounds its recursion before it starts.
    pub(super) fn lower_expr(&self, pair: Pair<'_, Rule>) -> Result<Operand, Diag> {
        let enclosing = self.enclosing_runs.get();
        let mut run = 0;
        let mut longest = 0;
        for p in pair.clone().into_inner() {
            match p.as_rule() {
                Rule::op_neg | Rule::op_pow => {
                    run += 1;
                    longest = longest.max(run);
                    if enclosing + run > MAX_EXPR_DEPTH {
                        return Err(errors::expression_too_deep(self.span(&p), enclosing + run));
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
            Rule::record => self.lower_record(pair),
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
            return Err(errors::expression_too_deep(op_span, depth));
        }
        let span = op_span.to(operand.outer);
        Ok(Operand { expr: Expr { kind: ExprKind::Minus(Box::new(operand.expr)), span }, depth, outer: span })
    }

    /// `a op b`, with `|>` rewritten into a call and chained comparisons rejected.
    fn lower_infix(&self, lhs: Operand, op: Pair<'_, Rule>, rhs: Operand) -> Result<Operand, Diag> {
        let op_span = self.span(&op);
        let span = lhs.outer.to(rhs.outer);
        let depth = lhs.depth.max(rhs.depth) + 1;
        if depth > MAX_EXPR_DEPTH {
            return Err(errors::expression_too_deep(op_span, depth));
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
                    return Err(errors::chained_comparison(op_span, lhs.expr.span));
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
            return Err(errors::expression_too_deep(op_span, depth));
        }
        let piped = Arg { name: None, value: lhs.expr };
        let kind = match rhs.expr.kind {
            ExprKind::Name(func) => ExprKind::Call { func, args: vec![piped] },
            ExprKind::Call { func, mut args } => {
                args.insert(0, piped);
                ExprKind::Call { func, args }
            }
            _ => return Err(errors::pipe_target(rhs.expr.span, op_span)),
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
            return Err(errors::expression_too_deep(Span::new(self.file, span.start, span.start + 1), depth));
        }
        Ok(Operand { expr: Expr { kind: ExprKind::List(items), span }, depth, outer: span })
    }

    /// `{name: e, ...}`, each field's name and value.
    fn lower_record(&self, pair: Pair<'_, Rule>) -> Result<Operand, Diag> {
        let span = self.span(&pair);
        let mut depth = 1;
        let mut fields = vec![];
        for p in parts(pair) {
            let mut field = parts(p);
            let name = self.lower_ident(next(&mut field, "field name"));
            let value = self.lower_expr(next(&mut field, "field value"))?;
            depth = depth.max(value.depth + 1);
            fields.push((name, value.expr));
        }
        if depth > MAX_EXPR_DEPTH {
            return Err(errors::expression_too_deep(Span::new(self.file, span.start, span.start + 1), depth));
        }
        Ok(Operand { expr: Expr { kind: ExprKind::Record(fields), span }, depth, outer: span })
    }

    fn lower_call(&self, pair: Pair<'_, Rule>) -> Result<Operand, Diag> {
        let span = self.span(&pair);
        let mut parts = parts(pair);
        let func = self.lower_ident(next(&mut parts, "callee"));
        let (args, args_depth) = self.lower_call_args(next(&mut parts, "call arguments"))?;
        let depth = args_depth + 1;
        if depth > MAX_EXPR_DEPTH {
            return Err(errors::expression_too_deep(func.span, depth));
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
        // The grammar's numbers are all valid for `f64::from_str`; only overflow remains.
        let value = text.parse::<f64>().map_err(|_| errors::number_too_large(span))?;
        if value.is_infinite() {
            return Err(errors::number_too_large(span));
        }
        Ok(Operand::leaf(ExprKind::Num(value), span))
    }

    pub(super) fn lower_string(&self, pair: Pair<'_, Rule>) -> Operand {
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
