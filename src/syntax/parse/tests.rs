//! Unit tests of the parser: spans, precedence, and the diagnostics for malformed input.

use super::*;
use crate::diag::{SourceMap, Span};
use crate::syntax::ast::{
    BinOp, Block, DTypeName, Dim, ExprKind, FormalParam, FuncDecl, FuncKind, Ident, Item, Stmt, TrainBlock, TypeExpr,
};
use crate::syntax::errors;

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
            Stmt::Param(p) | Stmt::Buffer(p) => {
                let init = p.init.as_ref().map(|e| format!(" = {}", sx(e))).unwrap_or_default();
                let kind = if matches!(s, Stmt::Param(_)) { "param" } else { "buffer" };
                format!("{kind} {}: {}{init}", p.name.name, ty_text(&p.ty))
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
            Item::UseFile(u) => format!("use {:?}", u.path),
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
    assert_eq!(uses[1], (s(&["std", "loss"]), s(&["cross_entropy"]), false, find(src, "use std.loss.cross_entropy")));
    assert_eq!(uses[2], (s(&["std", "nn"]), s(&[]), true, find(src, "use std.nn.*")));
    assert_eq!(uses[3], (s(&["a", "b", "c"]), s(&["d"]), false, find(src, "use a.b.c.d")));
    let Item::Use(u) = &file.items[0] else { unreachable!() };
    assert_eq!(u.names[1].span, find(src, "relu"));
    let src = "use \"lib/my optim.grad\"\n";
    let Item::UseFile(u) = &ok(src).items[0] else { panic!("a file import") };
    assert_eq!(
        (u.path.as_str(), u.path_span, u.span),
        ("lib/my optim.grad", find(src, "\"lib/my optim.grad\""), find(src, "use \"lib/my optim.grad\""))
    );
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
        assert_eq!(d.code, errors::PARSE, "{kw}");
        assert_eq!(d.label.as_ref().map(|l| l.0), Some(sp(14, 15)), "{kw}");
        let d = err(&format!("fn {kw}(x) = x"));
        assert_eq!(d.code, errors::PARSE, "{kw}");
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
    for (text, value) in [("3", 3.0), ("3.0", 3.0), ("1e-3", 1e-3), ("2.5E+4", 2.5e4), ("0.5e2", 50.0), ("007", 7.0)] {
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
        assert_eq!(d.code, errors::NUMBER);
        assert_eq!(d.label.unwrap().0, sp(11, 11 + text.len()));
    }
    let d = err("param w: f32[18446744073709551616]");
    assert_eq!((d.code, d.label.unwrap().0), (errors::NUMBER, sp(13, 33)));
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
        assert_eq!(d.code, errors::COMPARISON, "{src}");
    }
}

#[test]
fn pipe_needs_a_function_on_the_right() {
    for src in ["x |> 3", "x |> f + 1", "x |> -f", "x |> [f]", "x |> \"f\""] {
        let d = err(&format!("loss = {src}"));
        assert_eq!(d.code, errors::PIPE, "{src}");
    }
}

#[test]
fn records_name_their_fields() {
    assert_eq!(ex("{lr: base * 2, momentum: 0.9,}"), "{lr:(* base 2) momentum:0.9}");
    // Any word may name a field, and a record may sit where an operand does.
    assert_eq!(ex("where(c, {lr: 1, final: 2}, 3)"), "(where c {lr:1 final:2} 3)");
    // A block's result may be a record, after its statements.
    let file = ok("schedule s() {\n  a = base\n  {lr: a}\n}");
    assert_eq!(block_text(&func(&file, 0).body), ["a = base", "=> {lr:a}"]);
    let file = ok("loss = {a: 1}");
    let result = func(&file, 0).body.result.as_ref().expect("a result");
    let ExprKind::Record(fields) = &result.kind else { panic!("not a record: {result:?}") };
    assert_eq!(fields[0].0.span, sp(8, 9));
    assert_eq!(result.span, sp(7, 13));
    // `{}` is a block, never an empty record; a field needs its value.
    for src in ["loss = {}", "loss = {a}", "loss = {a: }", "loss = {a: 1 b: 2}"] {
        err(src);
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
    assert_eq!((d.code, d.label.unwrap().0), (errors::PARSE, sp(16, 17)));
}

// --- Errors ---------------------------------------------------------------------------------

#[test]
fn syntax_errors_point_at_the_offending_character() {
    let d = err("data d spirals(n: 1)");
    assert_eq!((d.code, d.message.as_str(), d.label.unwrap().0), (errors::PARSE, "expected `=`", sp(7, 8)));
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
    assert_eq!(d.code, errors::NESTING);
    let at = 7 + MAX_NESTING;
    assert_eq!(d.label.unwrap().0, sp(at, at + 1), "points at the first bracket too deep");
    // Brackets in comments and strings do not count.
    let hidden = format!("// {}\n/* {} */\nloss = f(\"{}\")", "(".repeat(300), "[".repeat(300), "{".repeat(300));
    ok(&hidden);
    let d = err(&format!("fn f(x) {{ y = [{} }}", "[".repeat(300)));
    assert_eq!(d.code, errors::NESTING);
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
    assert_eq!(err(&too_deep).code, errors::NESTING);
}

#[test]
fn long_operator_runs_are_bounded() {
    let minus = format!("loss = {}x", "-".repeat(100_000));
    let d = err(&minus);
    assert_eq!(d.code, errors::NESTING);
    let at = 7 + MAX_EXPR_DEPTH;
    assert_eq!(d.label.unwrap().0, sp(at, at + 1));
    let pow = format!("loss = x{}", "^x".repeat(100_000));
    assert_eq!(err(&pow).code, errors::NESTING);
    let mixed = format!("loss = x{}", "^-x".repeat(100_000));
    assert_eq!(err(&mixed).code, errors::NESTING);
    // Runs inside nested brackets add up.
    let nested = format!("loss = {}x{}", "--------(".repeat(100), ")".repeat(100));
    assert_eq!(err(&nested).code, errors::NESTING);
    // Up to the limit is fine.
    let fine = format!("loss = {}x", "-".repeat(MAX_EXPR_DEPTH - 1));
    ok(&fine);
}

#[test]
fn long_flat_chains_are_linear_and_bounded() {
    // 1 MB on one line: pest and the Pratt loop are linear; the tree would be 500,000 deep.
    let src = format!("loss = 1{}", "+1".repeat(500_000));
    let d = err(&src);
    assert_eq!(d.code, errors::NESTING);
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
fn snapshot_argument_named_with_equals() {
    insta::assert_snapshot!(snapshot_of(
        "param w: f32 = 1.0\nloss = w * w\ntrain { optimizer = adam(beta1: 0.8, lr=0.01), steps = 3 }\n"
    ));
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

#[test]
fn model_calls_the_runs_model_and_stays_a_keyword() {
    assert_eq!(ex("cross_entropy(model(x), y)"), ex("cross_entropy(m(x), y)").replace("(m ", "(model "));
    assert_eq!(ex("x |> model()"), "(model x)");
    let file = ok("model m(x) = x\nloss(x, y) = model(x)\n");
    assert_eq!(file.items.len(), 2, "`model m(...)` declares, `model(...)` calls");
    err("loss(x) = model (x)\n");
    err("fn model(x) = x\n");
    err("loss(x) = model\n");
}
