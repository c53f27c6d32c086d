//! The AST as S-expressions: what `gradc ir --stage ast` prints. Parenthesised so that
//! precedence and desugaring (`|>`, `-=`) are visible; spans are left out.

use std::fmt::Write;

use super::ast::{BinOp, Block, Dim, Expr, ExprKind, File, FuncKind, Item, ParamDecl, Stmt, TypeExpr};

/// Prints a file, one item per top-level form.
pub fn print(file: &File) -> String {
    let mut out = String::new();
    for item in &file.items {
        out.push_str(&item_text(item));
        out.push('\n');
    }
    out
}

fn item_text(item: &Item) -> String {
    match item {
        Item::Use(u) => {
            let module: Vec<&str> = u.module.iter().map(|i| i.name.as_str()).collect();
            let names: Vec<&str> = if u.glob { vec!["*"] } else { u.names.iter().map(|i| i.name.as_str()).collect() };
            format!("(use {} {})", module.join("."), names.join(" "))
        }
        Item::UseFile(u) => format!("(use {:?})", u.path),
        Item::Param(p) => param_text(p),
        Item::Data(d) => format!("(data {} {})", d.name.name, expr(&d.value)),
        Item::Func(f) => {
            let kind = match f.kind {
                FuncKind::Fn => "fn",
                FuncKind::Layer => "layer",
                FuncKind::Model => "model",
                FuncKind::Loss => "loss",
                FuncKind::Schedule => "schedule",
                FuncKind::Optimizer => "optimizer",
            };
            let mut s = format!("({kind} {} (", f.name.name);
            let formals: Vec<String> = f
                .params
                .iter()
                .map(|p| {
                    let mut t = p.name.name.clone();
                    if let Some(ty) = &p.ty {
                        write!(t, ": {}", type_text(ty)).expect("write to String");
                    }
                    if let Some(d) = &p.default {
                        write!(t, " = {}", expr(d)).expect("write to String");
                    }
                    t
                })
                .collect();
            s.push_str(&formals.join(", "));
            s.push(')');
            if let Some(r) = &f.ret {
                write!(s, " -> {}", type_text(r)).expect("write to String");
            }
            s.push_str(&block_text(&f.body));
            s.push(')');
            s
        }
        Item::Train(t) | Item::Compare(t) => {
            let mut s = String::from(if matches!(item, Item::Train(_)) { "(train" } else { "(compare" });
            for (k, v) in &t.entries {
                write!(s, "\n  ({} {})", k.name, expr(v)).expect("write to String");
            }
            s.push(')');
            s
        }
    }
}

fn block_text(b: &Block) -> String {
    let mut s = String::new();
    for stmt in &b.stmts {
        let line = match stmt {
            Stmt::Let { name, value, .. } => format!("(let {} {})", name.name, expr(value)),
            Stmt::Param(p) => param_text(p),
            Stmt::Buffer(p) => format!("(buffer{}", &param_text(p)["(param".len()..]),
            Stmt::State { vars, .. } => {
                let v: Vec<String> = vars.iter().map(|(n, e)| format!("({} {})", n.name, expr(e))).collect();
                format!("(state {})", v.join(" "))
            }
        };
        write!(s, "\n  {line}").expect("write to String");
    }
    if let Some(r) = &b.result {
        write!(s, "\n  {}", expr(r)).expect("write to String");
    }
    s
}

fn param_text(p: &ParamDecl) -> String {
    match &p.init {
        Some(i) => format!("(param {}: {} {})", p.name.name, type_text(&p.ty), expr(i)),
        None => format!("(param {}: {})", p.name.name, type_text(&p.ty)),
    }
}

fn type_text(t: &TypeExpr) -> String {
    match t {
        TypeExpr::Int(_) => "int".into(),
        TypeExpr::Float(_) => "float".into(),
        TypeExpr::Tensor { dtype, dims, .. } => {
            let d: Vec<String> = dims
                .iter()
                .map(|d| match d {
                    Dim::Lit(n, _) => n.to_string(),
                    Dim::Var(i) => i.name.clone(),
                })
                .collect();
            let name = match dtype {
                super::ast::DTypeName::F32 => "f32",
                super::ast::DTypeName::I32 => "i32",
            };
            format!("{name}[{}]", d.join(", "))
        }
    }
}

/// Prints one expression as an S-expression.
pub fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Num(n) => format!("{n}"),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Name(i) => i.name.clone(),
        ExprKind::Minus(x) => format!("(neg {})", expr(x)),
        ExprKind::Binary(op, a, b) => {
            let o = match op {
                BinOp::Add => "+",
                BinOp::Sub => "-",
                BinOp::Mul => "*",
                BinOp::Div => "/",
                BinOp::Pow => "^",
                BinOp::MatMul => "@",
                BinOp::Eq => "==",
                BinOp::Ne => "!=",
                BinOp::Lt => "<",
                BinOp::Le => "<=",
                BinOp::Gt => ">",
                BinOp::Ge => ">=",
                BinOp::Then => "then",
            };
            format!("({o} {} {})", expr(a), expr(b))
        }
        ExprKind::Call { func, args } => {
            let mut s = format!("({}", func.name);
            for a in args {
                match &a.name {
                    Some(n) => write!(s, " {}:{}", n.name, expr(&a.value)),
                    None => write!(s, " {}", expr(&a.value)),
                }
                .expect("write to String");
            }
            s.push(')');
            s
        }
        ExprKind::List(items) => format!("[{}]", items.iter().map(expr).collect::<Vec<_>>().join(" ")),
        ExprKind::Record(fields) => {
            let fields: Vec<String> = fields.iter().map(|(n, v)| format!("{}:{}", n.name, expr(v))).collect();
            format!("{{{}}}", fields.join(" "))
        }
    }
}
