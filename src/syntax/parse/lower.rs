//! Lowering of declarations, statements and types: one `lower_<rule>` method per grammar rule.
//! Expressions are lowered in `expr`.

use std::cell::Cell;

use pest::iterators::Pair;

use super::expr::Operand;
use super::Rule;
use crate::diag::{Diag, FileId, Span};
use crate::syntax::ast::{
    BinOp, Block, DTypeName, DataDecl, Dim, Expr, ExprKind, File, FormalParam, FuncDecl, FuncKind, Ident, Item,
    ParamDecl, Stmt, TrainBlock, TypeExpr, Use, UseFile,
};
use crate::syntax::errors;

/// Lowers the pair of a whole file.
pub(super) fn file(file: FileId, pair: Pair<'_, Rule>) -> Result<File, Diag> {
    Lower { file, enclosing_runs: Cell::new(0) }.lower_file(pair)
}

/// Lowering state for one file.
pub(super) struct Lower {
    pub(super) file: FileId,
    /// Sum of the longest `-`/`^` runs of the expressions enclosing the one being lowered: a bound
    /// on the Pratt parser frames already on the stack (see `lower_expr`).
    pub(super) enclosing_runs: Cell<usize>,
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
            | Rule::kw_buffer
    )
}

/// The meaningful children of a pair.
pub(super) fn parts(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| !is_noise(p.as_rule()))
}

/// The next meaningful child, which the grammar guarantees is there.
pub(super) fn next<'i>(parts: &mut impl Iterator<Item = Pair<'i, Rule>>, what: &str) -> Pair<'i, Rule> {
    parts.next().unwrap_or_else(|| panic!("grammar: missing {what}"))
}

/// A pair the grammar does not allow where it was found.
pub(super) fn grammar_bug(pair: &Pair<'_, Rule>) -> ! {
    panic!("grammar: unexpected {:?} at {:?}", pair.as_rule(), pair.as_span())
}

impl Lower {
    /// Where a pair's text lies: exact for tokens and for rules that end in one (`)`, `}`).
    ///
    /// A rule ending in an optional part or a repetition (`x = e`, whose `e` may continue with
    /// an operator) keeps the whitespace and comments pest skipped before trying that part, so
    /// its end can lie past the text; those rules use [`Lower::span_until`] instead.
    pub(super) fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    /// From a pair's start to `end`, the end of its last lowered part.
    pub(super) fn span_until(&self, pair: &Pair<'_, Rule>, end: usize) -> Span {
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
            Rule::use_item => self.lower_use_item(p),
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

    fn lower_use_item(&self, pair: Pair<'_, Rule>) -> Item {
        let span = self.span(&pair);
        let mut parts = parts(pair);
        let first = next(&mut parts, "use path");
        if first.as_rule() == Rule::string {
            let path_span = self.span(&first);
            // lower_string always builds an ExprKind::Str.
            let ExprKind::Str(path) = self.lower_string(first).expr.kind else { unreachable!("a string literal") };
            return Item::UseFile(UseFile { path, path_span, span });
        }
        let module = self.lower_use_path(first);
        let tail = next(&mut parts, "use tail");
        let (names, glob) = match tail.as_rule() {
            Rule::glob => (vec![], true),
            Rule::use_group => (self.lower_use_group(tail), false),
            Rule::ident => (vec![self.lower_ident(tail)], false),
            _ => grammar_bug(&tail),
        };
        Item::Use(Use { module, names, glob, span })
    }

    fn lower_use_path(&self, pair: Pair<'_, Rule>) -> Vec<Ident> {
        parts(pair).map(|w| self.lower_ident(w)).collect()
    }

    fn lower_use_group(&self, pair: Pair<'_, Rule>) -> Vec<Ident> {
        parts(pair).map(|w| self.lower_ident(w)).collect()
    }

    /// Also lowers `word` and the `loss` keyword, which name things the same way.
    pub(super) fn lower_ident(&self, pair: Pair<'_, Rule>) -> Ident {
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
        let size = pair.as_str().parse::<u64>().map_err(|_| errors::dimension_too_large(span))?;
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
            Rule::buffer_decl => Ok(Stmt::Buffer(self.lower_param_decl(p)?)),
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
}
