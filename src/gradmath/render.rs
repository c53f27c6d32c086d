//! Writes [`Maths`] as Unicode text or as a LaTeX document.
//!
//! Conventions: `·` multiplies by a scalar, `⊙` per element, ` · ` between matrices is their
//! product and `ᵀ` transposes; broadcasting is implicit, as in numpy; `[a > b]` is 1 where the
//! comparison holds, else 0; `Σ_b` sums over the batch axis (`j`, `k`: later axes; `c`, `h`,
//! `w` for images); a number `k/B` is written with the batch size `B`.

use super::term::{Rel, Term, TermId};
use super::{LetName, Maths};

/// The output language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unicode text for a terminal.
    Text,
    /// LaTeX maths (amsmath).
    Latex,
}

/// Binding strength, loosest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Sum,
    Product,
    Prefix,
    Atom,
}

/// The lines for the gradients `only` names (all when `None`): each `let` before its first
/// use, then `∂loss/∂p = …`; `extra` adds lines after a parameter's gradient (its values).
pub fn lines(m: &Maths, style: Style, only: Option<&str>, extra: &dyn Fn(&str) -> Vec<String>) -> Vec<String> {
    let r = Renderer { m, style };
    let mut out = Vec::new();
    let mut printed = vec![false; m.lets.len()];
    for g in m.grads.iter().filter(|g| only.is_none_or(|p| p == g.param)) {
        // With one parameter asked for, every let it reads is printed, wherever it was first needed.
        let mut needed = Vec::new();
        if only.is_some() {
            r.lets_under(g.term, &mut needed, &mut vec![false; m.terms.len()]);
        } else {
            needed = g.lets.clone();
        }
        for l in needed {
            if !std::mem::replace(&mut printed[l], true) {
                let (name, t) = &m.lets[l];
                out.push(r.line(&r.let_name(name), &r.define(*t), true));
            }
        }
        let lhs = match style {
            Style::Text => format!("∂{}/∂{}", m.loss, g.param),
            Style::Latex => {
                format!("\\frac{{\\partial {}}}{{\\partial {}}}", latex_name(&m.loss), latex_name(&g.param))
            }
        };
        out.push(r.line(&lhs, &r.expr(g.term).0, false));
        out.extend(extra(&g.param));
    }
    out
}

/// The text form: one line each, and what `B` is.
pub fn text(m: &Maths, only: Option<&str>, extra: &dyn Fn(&str) -> Vec<String>) -> String {
    let mut s = lines(m, Style::Text, only, extra).join("\n");
    s.push('\n');
    if let Some(b) = m.batch {
        s.push_str(&format!("where B = {b}, the rows in a batch\n"));
    }
    s
}

/// A LaTeX document (article, amsmath) with one aligned line each.
pub fn latex(m: &Maths, only: Option<&str>, extra: &dyn Fn(&str) -> Vec<String>) -> String {
    let body = lines(m, Style::Latex, only, extra);
    let mut s =
        String::from("\\documentclass{article}\n\\usepackage{amsmath}\n\\allowdisplaybreaks\n\\begin{document}\n");
    s.push_str("\\begin{align*}\n");
    let n = body.len();
    for (i, l) in body.into_iter().enumerate() {
        let comment = l.starts_with('%');
        s.push_str(&l);
        s.push_str(if comment || i + 1 == n { "\n" } else { " \\\\\n" });
    }
    s.push_str("\\end{align*}\n");
    if let Some(b) = m.batch {
        s.push_str(&format!("where $B = {b}$, the rows in a batch.\n"));
    }
    s.push_str("\\end{document}\n");
    s
}

/// A name as LaTeX: upright, with the characters LaTeX reserves escaped.
pub fn latex_name(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        match c {
            '_' | '#' | '%' | '&' | '$' | '{' | '}' => {
                s.push('\\');
                s.push(c);
            }
            '…' => s.push_str("\\ldots{}"),
            '′' => s.push('\''),
            '^' | '~' | '\\' => s.push('?'),
            c => s.push(c),
        }
    }
    format!("\\mathrm{{{s}}}")
}

struct Renderer<'m> {
    m: &'m Maths,
    style: Style,
}

impl Renderer<'_> {
    fn latex(&self) -> bool {
        self.style == Style::Latex
    }

    fn line(&self, lhs: &str, rhs: &str, is_let: bool) -> String {
        match (self.style, is_let) {
            (Style::Text, true) => format!("let {lhs} = {rhs}"),
            (Style::Text, false) => format!("{lhs} = {rhs}"),
            (Style::Latex, true) => format!("\\text{{let }} {lhs} &= {rhs}"),
            (Style::Latex, false) => format!("{lhs} &= {rhs}"),
        }
    }

    fn let_name(&self, n: &LetName) -> String {
        match (self.style, &n.sub) {
            (Style::Text, None) => n.letter.to_string(),
            (Style::Text, Some(s)) => format!("{}_{s}", n.letter),
            (Style::Latex, sub) => {
                let letter = if n.letter == "δ" { "\\delta" } else { n.letter };
                match sub {
                    None => letter.to_string(),
                    Some(s) if s.chars().all(|c| c.is_ascii_digit()) => format!("{letter}_{{{s}}}"),
                    Some(s) => format!("{letter}_{{{}}}", latex_name(s)),
                }
            }
        }
    }

    /// The lets a term reads, in definition order, with the lets those read.
    fn lets_under(&self, t: TermId, out: &mut Vec<usize>, seen: &mut Vec<bool>) {
        if std::mem::replace(&mut seen[t], true) {
            return;
        }
        for c in self.m.terms[t].children() {
            self.lets_under(c, out, seen);
        }
        if let Some(&l) = self.m.let_of.get(&t) {
            out.push(l);
            out.sort_unstable();
        }
    }

    /// A let's definition: its term written out (not by its own name).
    fn define(&self, t: TermId) -> String {
        self.body(t).0
    }

    /// A term: by its let's name if it is one.
    fn expr(&self, t: TermId) -> (String, Prec) {
        match self.m.let_of.get(&t) {
            Some(&l) => (self.let_name(&self.m.lets[l].0), Prec::Atom),
            None => self.body(t),
        }
    }

    /// A term at least as tight as `p`, in parentheses if it binds more loosely.
    fn at(&self, t: TermId, p: Prec) -> String {
        let (s, q) = self.expr(t);
        if q >= p {
            s
        } else {
            self.paren(&s)
        }
    }

    fn paren(&self, s: &str) -> String {
        if self.latex() {
            format!("\\left({s}\\right)")
        } else {
            format!("({s})")
        }
    }

    fn number(&self, x: f64) -> String {
        let s = crate::ir::print::fmt_f32(x.abs() as f32);
        let s = s.strip_suffix(".0").unwrap_or(&s).to_string();
        match (self.latex(), s.split_once('e')) {
            (true, Some((m, e))) => format!("{m} \\times 10^{{{e}}}"),
            (_, _) => s,
        }
    }

    fn minus(&self) -> &'static str {
        if self.latex() {
            "-"
        } else {
            "−"
        }
    }

    /// `(k, d)` when `c = k/d` below 1 with `d` the batch size `B` (written `B`) and a whole `k`
    /// from 1 to 16, or with `k = 1` and a whole `d` (a mean's divisor): to f32 precision.
    fn fraction(&self, c: f64) -> Option<(f64, String)> {
        let close = |x: f64, k: f64| (x - k).abs() <= 1e-6 * k;
        if c >= 1.0 || c <= 0.0 {
            return None;
        }
        if let Some(b) = self.m.batch.filter(|&b| b > 1).map(|b| b as f64) {
            let k = (c * b).round();
            if (1.0..=16.0).contains(&k) && close(c * b, k) {
                return Some((k, "B".into()));
            }
        }
        let d = (1.0 / c).round();
        (d >= 2.0 && close(1.0 / c, d)).then(|| (1.0, self.number(d)))
    }

    /// `c·x` for a positive `c`: `x`, `2·x`, `x / B`, `2·x / B`.
    fn scaled(&self, c: f64, x: TermId) -> (String, Prec) {
        if c == 1.0 {
            return self.expr(x);
        }
        let (s, p) = self.expr(x);
        let wrapped = if p >= Prec::Prefix { s.clone() } else { self.paren(&s) };
        self.scaled_text(c, &s, &wrapped)
    }

    /// `Σ cᵢ·tᵢ + k`, with a common factor taken out: `(softmax(z) − onehot(y)) / B`.
    fn lin(&self, ts: &[(f64, TermId)], k: f64) -> (String, Prec) {
        let a = ts[0].0.abs();
        let common = ts.len() > 1 && a != 1.0 && ts.iter().all(|t| t.0.abs() == a);
        if common {
            let sign = if ts.iter().any(|t| t.0 > 0.0) { 1.0 } else { -1.0 };
            let inner: Vec<(f64, TermId)> = ts.iter().map(|t| (t.0 / (sign * a), t.1)).collect();
            let (s, _) = self.sum(&inner, k / (sign * a));
            let (body, p) = self.scaled_text(a, &s, &self.paren(&s));
            return if sign > 0.0 { (body, p) } else { (format!("{}{}", self.minus(), body), Prec::Sum) };
        }
        self.sum(ts, k)
    }

    /// `c·s` for a positive `c`: `bare` is `s` as it is, `wrapped` in parentheses if it binds
    /// more loosely than a product's operand.
    fn scaled_text(&self, c: f64, bare: &str, wrapped: &str) -> (String, Prec) {
        let dot = if self.latex() { " \\cdot " } else { "·" };
        match self.fraction(c) {
            Some((k, d)) if self.latex() => {
                let num = if k == 1.0 { bare.to_string() } else { format!("{}{dot}{wrapped}", self.number(k)) };
                (format!("\\frac{{{num}}}{{{d}}}"), Prec::Atom)
            }
            Some((k, d)) => {
                let num = if k == 1.0 { wrapped.to_string() } else { format!("{}{dot}{wrapped}", self.number(k)) };
                (format!("{num} / {d}"), Prec::Product)
            }
            None => (format!("{}{dot}{wrapped}", self.number(c)), Prec::Product),
        }
    }

    /// The terms of a sum, positive ones first, then the constant.
    fn sum(&self, ts: &[(f64, TermId)], k: f64) -> (String, Prec) {
        let mut order: Vec<&(f64, TermId)> = ts.iter().filter(|t| t.0 > 0.0).collect();
        order.extend(ts.iter().filter(|t| t.0 <= 0.0));
        let mut s = String::new();
        let lead = k > 0.0 && order.first().is_some_and(|t| t.0 < 0.0);
        if lead {
            s.push_str(&self.number(k));
        }
        for (i, (c, t)) in order.iter().enumerate() {
            let i = i + usize::from(lead);
            let (body, p) = self.scaled(c.abs(), *t);
            let body = if p == Prec::Sum { self.paren(&body) } else { body };
            match (i, *c < 0.0) {
                (0, false) => s.push_str(&body),
                (0, true) => s.push_str(&format!("{}{body}", self.minus())),
                (_, false) => s.push_str(&format!(" + {body}")),
                (_, true) => s.push_str(&format!(" {} {body}", self.minus())),
            }
        }
        if k != 0.0 && !lead {
            let sign = if k > 0.0 { "+" } else { self.minus() };
            s.push_str(&format!(" {sign} {}", self.number(k)));
        }
        let single = ts.len() == 1 && k == 0.0;
        match (single, ts[0].0 < 0.0) {
            (true, false) => self.scaled(ts[0].0, ts[0].1),
            (true, true) => (s, Prec::Sum),
            (false, _) => (s, Prec::Sum),
        }
    }

    fn body(&self, t: TermId) -> (String, Prec) {
        let l = self.latex();
        match &self.m.terms[t] {
            Term::Name(n) => (if l { latex_name(n) } else { n.clone() }, Prec::Atom),
            Term::Num(x) if *x < 0.0 => (format!("{}{}", self.minus(), self.number(*x)), Prec::Sum),
            Term::Num(x) => (self.number(*x), Prec::Atom),
            Term::Lin(ts, k) if ts.is_empty() => (self.number(*k), Prec::Atom),
            Term::Lin(ts, k) => self.lin(ts, *k),
            Term::Prod(a, b, scalar) => {
                let op = match (l, scalar) {
                    (false, true) => "·",
                    (false, false) => " ⊙ ",
                    (true, true) => " \\cdot ",
                    (true, false) => " \\odot ",
                };
                // A product of the same kind needs no parentheses inside another.
                let side = |x: TermId| {
                    let same = matches!(&self.m.terms[x], Term::Prod(_, _, s) if s == scalar);
                    if same && !self.m.let_of.contains_key(&x) {
                        self.expr(x).0
                    } else {
                        self.at(x, Prec::Prefix)
                    }
                };
                (format!("{}{op}{}", side(*a), side(*b)), Prec::Product)
            }
            Term::Quot(a, b) if l => (format!("\\frac{{{}}}{{{}}}", self.expr(*a).0, self.expr(*b).0), Prec::Atom),
            Term::Quot(a, b) => (format!("{} / {}", self.at(*a, Prec::Prefix), self.at(*b, Prec::Atom)), Prec::Product),
            Term::Pow(a, b) if l => (format!("{{{}}}^{{{}}}", self.at(*a, Prec::Atom), self.expr(*b).0), Prec::Atom),
            Term::Pow(a, b) => (format!("{}^{}", self.at(*a, Prec::Atom), self.at(*b, Prec::Atom)), Prec::Atom),
            Term::Abs(a) if l => (format!("\\left\\lvert {} \\right\\rvert", self.expr(*a).0), Prec::Atom),
            Term::Abs(a) => (format!("|{}|", self.expr(*a).0), Prec::Atom),
            Term::Bracket(a, rel, b) => {
                let r = match (l, rel) {
                    (_, Rel::Gt) => ">",
                    (false, Rel::Le) => "≤",
                    (true, Rel::Le) => "\\le",
                    (_, Rel::Eq) => "=",
                    (false, Rel::Ne) => "≠",
                    (true, Rel::Ne) => "\\neq",
                };
                let (a, b) = (self.at(*a, Prec::Sum), self.at(*b, Prec::Sum));
                if l {
                    (format!("\\left[{a} {r} {b}\\right]"), Prec::Atom)
                } else {
                    (format!("[{a} {r} {b}]"), Prec::Atom)
                }
            }
            Term::Func(name, args) => {
                let args: Vec<String> = args.iter().map(|&a| self.expr(a).0).collect();
                (format!("{}{}", self.function(name), self.paren(&args.join(", "))), Prec::Atom)
            }
            Term::MatMul(a, ta, b, tb) => {
                let side = |x: TermId, t: bool| {
                    let s = self.at(x, if t { Prec::Atom } else { Prec::Prefix });
                    match (t, l) {
                        (false, _) => s,
                        (true, false) => format!("{s}ᵀ"),
                        (true, true) => format!("{{{s}}}^{{\\top}}"),
                    }
                };
                let dot = if l { " \\cdot " } else { " · " };
                (format!("{}{dot}{}", side(*a, *ta), side(*b, *tb)), Prec::Product)
            }
            Term::Sum(axes, a) | Term::Max(axes, a) => {
                let sum = matches!(self.m.terms[t], Term::Sum(..));
                let sub = axes.join(",");
                let op = match (l, sum) {
                    (false, true) => "Σ".to_string(),
                    (false, false) => "max".to_string(),
                    (true, true) => "\\sum".to_string(),
                    (true, false) => "\\max".to_string(),
                };
                let op = match (axes.len(), l) {
                    (0, _) => op,
                    (1, false) => format!("{op}_{sub}"),
                    (_, false) => format!("{op}_{{{sub}}}"),
                    (_, true) => format!("{op}_{{{sub}}}"),
                };
                let arg = self.at(*a, Prec::Atom);
                let gap = if l || arg.starts_with('(') { "" } else { " " };
                (format!("{op}{gap}{}{arg}", if l { " " } else { "" }), Prec::Prefix)
            }
            Term::Softmax(a) => (format!("{}{}", self.function("softmax"), self.paren(&self.expr(*a).0)), Prec::Atom),
            Term::Where(c, a, b) => {
                let args = [*c, *a, *b].map(|x| self.expr(x).0);
                (format!("{}{}", self.function("where"), self.paren(&args.join(", "))), Prec::Atom)
            }
            Term::Reshape(a, shape) => {
                // The batch axis is written `B`, as the declared types write it.
                let dims: Vec<String> = shape
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| if i == 0 && Some(d) == self.m.batch { "B".into() } else { d.to_string() })
                    .collect();
                let shape = format!("[{}]", dims.join(", "));
                (
                    format!("{}{}", self.function("reshape"), self.paren(&format!("{}, {shape}", self.expr(*a).0))),
                    Prec::Atom,
                )
            }
        }
    }

    /// A function's name: LaTeX's own command for those it has.
    fn function(&self, name: &str) -> String {
        if !self.latex() {
            return name.to_string();
        }
        match name {
            "exp" | "log" | "sin" | "cos" | "tanh" | "max" | "min" => format!("\\{name}"),
            other => format!("\\operatorname{{{}}}", other.replace('_', "\\_")),
        }
    }
}
