//! The typed syntax tree of a `.grad` file. Every node carries the span it was parsed from.

use crate::diag::Span;

/// A name as written, with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// A whole source file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// Top-level items in source order.
    pub items: Vec<Item>,
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `use std.nn.{dense, relu}` / `use std.loss.cross_entropy` / `use std.nn.*`
    Use(Use),
    /// `use "lib/my_optim.grad"`
    UseFile(UseFile),
    /// `param theta: f32 = 0.0`
    Param(ParamDecl),
    /// `data d = spirals(n: 200)`
    Data(DataDecl),
    /// `fn`, `layer`, `model`, `loss`, `schedule` and `optimizer` declarations.
    Func(FuncDecl),
    /// `train { ... }`
    Train(TrainBlock),
    /// `compare { ... }`: the variants `gradc compare` runs.
    Compare(TrainBlock),
}

/// An import of every declaration of another `.grad` file.
#[derive(Debug, Clone, PartialEq)]
pub struct UseFile {
    /// The path as written, relative to the importing file's directory.
    pub path: String,
    /// Where the path is written.
    pub path_span: Span,
    /// The whole item.
    pub span: Span,
}

/// An import of names from a stdlib module.
#[derive(Debug, Clone, PartialEq)]
pub struct Use {
    /// Module path, e.g. `std.nn` as `[std, nn]`.
    pub module: Vec<Ident>,
    /// The imported names; empty when `glob` is set.
    pub names: Vec<Ident>,
    /// `use std.nn.*`
    pub glob: bool,
    /// The whole item.
    pub span: Span,
}

/// A trainable parameter, at top level or inside a layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDecl {
    /// Its name (inside a layer, prefixed by the instance name when elaborated).
    pub name: Ident,
    /// Its type; must be an f32 tensor or scalar.
    pub ty: TypeExpr,
    /// Initializer expression (`zeros`, `normal(std: 0.1)`, a number, a name bound to one); `None` means zeros.
    pub init: Option<Expr>,
    /// The whole declaration.
    pub span: Span,
}

/// A named dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DataDecl {
    /// Its name, referenced from `train { data = ... }`.
    pub name: Ident,
    /// The source expression, e.g. `spirals(n: 200)` or `csv("f.csv", label: "y")`.
    pub value: Expr,
    /// The whole declaration.
    pub span: Span,
}

/// What kind of callable a [`FuncDecl`] declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncKind {
    /// `fn`: a pure function; may not declare parameters.
    Fn,
    /// `layer`: may declare parameters, which are named after the call's instance.
    Layer,
    /// `model`: like a layer, but its parameters are not prefixed (it is the root of the naming tree).
    Model,
    /// `loss`: the objective; its parameters are bound to the data's features and labels.
    Loss,
    /// `schedule`: a learning rate (or a record of hyper-parameters) as a function of `base` and `step`.
    Schedule,
    /// `optimizer`: a per-parameter update rule over `p`, `g`, `t` and `state` variables.
    Optimizer,
}

/// A callable declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct FuncDecl {
    /// Which kind.
    pub kind: FuncKind,
    /// Its name (`loss` for a loss declaration).
    pub name: Ident,
    /// Formal parameters; empty for `loss = expr`.
    pub params: Vec<FormalParam>,
    /// Declared result type, if any.
    pub ret: Option<TypeExpr>,
    /// The body.
    pub body: Block,
    /// The whole declaration.
    pub span: Span,
}

/// One formal parameter: `x: f32[B, 2]`, `n: int`, `beta1 = 0.9`, `init = he_normal`.
#[derive(Debug, Clone, PartialEq)]
pub struct FormalParam {
    /// Its name.
    pub name: Ident,
    /// Its declared type, if any.
    pub ty: Option<TypeExpr>,
    /// Default value, making the parameter optional.
    pub default: Option<Expr>,
}

/// A type annotation.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeExpr {
    /// `f32`, `f32[B, 2]`, `i32[B]`: dims empty for a scalar.
    Tensor {
        /// Element type.
        dtype: DTypeName,
        /// Dimensions.
        dims: Vec<Dim>,
        /// Where it was written.
        span: Span,
    },
    /// `int`: a compile-time integer (e.g. a layer width).
    Int(Span),
    /// `float`: a compile-time number (e.g. a hyper-parameter).
    Float(Span),
}

impl TypeExpr {
    /// Where it was written.
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Tensor { span, .. } | TypeExpr::Int(span) | TypeExpr::Float(span) => *span,
        }
    }
}

/// An element type name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DTypeName {
    /// `f32`
    F32,
    /// `i32`
    I32,
}

/// One dimension in a type.
#[derive(Debug, Clone, PartialEq)]
pub enum Dim {
    /// A literal size (`784`); `u64` so that over-large sizes reach the checker, which reports them.
    Lit(u64, Span),
    /// A dimension variable (`B`, `I`) or a compile-time integer in scope (`n`).
    Var(Ident),
}

/// A block: statements then an optional result expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Statements in order.
    pub stmts: Vec<Stmt>,
    /// The value of the block (absent in optimizer bodies).
    pub result: Option<Expr>,
}

/// A statement inside a block.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `x = e`, `let x = e`, and `p -= e` (desugared to `p = p - e`, likewise `+=`, `*=`, `/=`).
    Let {
        /// The bound name.
        name: Ident,
        /// Its value.
        value: Expr,
        /// The whole statement.
        span: Span,
    },
    /// `param w: f32[I, n] = init` inside a layer or model.
    Param(ParamDecl),
    /// `buffer running_mean: f32[C] = zeros` inside a layer or model: kept, not trained.
    Buffer(ParamDecl),
    /// `state m = 0, v = 0` inside an optimizer: per-parameter state with the parameter's shape.
    State {
        /// Each variable and its initial value.
        vars: Vec<(Ident, Expr)>,
        /// The whole statement.
        span: Span,
    },
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

/// Binary operators, in the surface syntax's spelling order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `^` (right-associative, binds tighter than unary minus: `-x^2` is `-(x^2)`)
    Pow,
    /// `@`: matrix product
    MatMul,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `then`: sequential composition of schedules
    Then,
}

/// The forms an expression takes.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A number literal, as parsed into f64 (an over-large literal is a parse diagnostic).
    Num(f64),
    /// A string literal, unescaped.
    Str(String),
    /// `true` / `false`
    Bool(bool),
    /// A name.
    Name(Ident),
    /// `-e`
    Minus(Box<Expr>),
    /// `a op b`
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `f(a, name: b)`; `a |> f(b)` is parsed as `f(a, b)`.
    Call {
        /// The callee.
        func: Ident,
        /// Arguments in order.
        args: Vec<Arg>,
    },
    /// `[a, b, c]`
    List(Vec<Expr>),
    /// `{lr: a, momentum: b}`: named values, in order as written.
    Record(Vec<(Ident, Expr)>),
}

/// A call argument, positional or named.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// `Some` for `name: value`.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// `train { key = value, ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct TrainBlock {
    /// Entries in order; each key is checked by the elaborator.
    pub entries: Vec<(Ident, Expr)>,
    /// The whole block.
    pub span: Span,
}
