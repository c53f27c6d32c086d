//! The op table: every primitive op, its printer name and its shape rule.
//!
//! An op's other facets live in one `match` each, with no `_ =>` arm, so adding an op
//! makes the compiler list every place that must learn it:
//! interpreter semantics in `ir::interp::eval_op`, the VJP rule in `autodiff::vjp`,
//! and code generation in `codegen`.

use super::{DType, Shape, Type};

/// A primitive op. Composite ops (softmax, cross-entropy, Adam) are `.grad` code in `stdlib/`.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The graph input with this index in `Graph::inputs`.
    Input(usize),
    /// A scalar f32 constant, held in f64 so that scalar arithmetic on it (a schedule, a bias
    /// correction) can run in double precision, as PyTorch's Python-float hyper-parameters do.
    Const(f64),
    /// `-x`
    Neg,
    /// `e^x`
    Exp,
    /// natural logarithm
    Log,
    /// square root
    Sqrt,
    /// `|x|`
    Abs,
    /// -1, 0 or 1 (its gradient is zero)
    Sign,
    /// hyperbolic tangent
    Tanh,
    /// largest integer not above `x` (its gradient is zero)
    Floor,
    /// cosine (radians)
    Cos,
    /// sine (radians)
    Sin,
    /// `a + b` (operands of equal shape; broadcasting is explicit)
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `a ^ b`
    Pow,
    /// elementwise maximum
    Max,
    /// `a > b` as 1.0 or 0.0 (no gradient)
    Gt,
    /// `a == b` as 1.0 or 0.0 (no gradient); operands f32 or i32
    Eq,
    /// `select(c, a, b)`: per element `a` where the f32 mask `c` is nonzero (NaN counts as
    /// nonzero, as `c != 0` says), else `b`. The unpicked operand is not read into the result at
    /// all, so a NaN or infinity there cannot leak (unlike `c*a + (1-c)*b`). Three operands of
    /// one shape; the mask gets no gradient.
    Select,
    /// Numpy broadcast of the operand to this shape (dims aligned on the right; size 1 or equal).
    Broadcast(Shape),
    /// Same elements, new shape.
    Reshape(Shape),
    /// Sum over these axes (ascending), which are removed.
    Sum(Vec<usize>),
    /// Maximum over these axes (ascending), which are removed.
    MaxReduce(Vec<usize>),
    /// Matrix product of two rank-2 operands, each optionally transposed.
    MatMul {
        /// Use the first operand transposed.
        ta: bool,
        /// Use the second operand transposed.
        tb: bool,
    },
    /// i32 class indices `[n]` to f32 one-hot rows `[n, classes]`; an index outside the range gives a zero row.
    OneHot(usize),
    /// Index of the largest element along this axis (first on ties), as i32; the axis is removed.
    Argmax(usize),
}

/// Why an op cannot be applied to operands of these types.
#[derive(Debug, Clone, PartialEq)]
pub enum ShapeError {
    /// The operands' shapes do not fit the op.
    Mismatch(String),
    /// An element type the op does not accept.
    DType(String),
    /// An axis outside the operand's rank.
    Axis(String),
    /// A shape whose element count does not fit in memory indices.
    TooLarge(String),
}

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShapeError::Mismatch(m) | ShapeError::DType(m) | ShapeError::Axis(m) | ShapeError::TooLarge(m) => {
                f.write_str(m)
            }
        }
    }
}

/// Largest number of elements a single tensor may hold (2^31 f32s = 8 GiB).
pub const MAX_ELEMENTS: usize = 1 << 31;

/// The number of elements of a shape, or `None` past [`MAX_ELEMENTS`].
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).filter(|&n| n <= MAX_ELEMENTS)
}

/// Formats a shape as `[2, 3]`.
pub fn fmt_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// The numpy broadcast of two shapes, or `None` if they do not broadcast.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Shape> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i < rank - a.len() { 1 } else { a[i - (rank - a.len())] };
        let db = if i < rank - b.len() { 1 } else { b[i - (rank - b.len())] };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Whether `from` broadcasts to exactly `to`.
pub fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len() && broadcast_shapes(from, to).as_deref() == Some(to)
}

impl Op {
    /// The name the text printer uses.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input(_) => "input",
            Op::Const(_) => "const",
            Op::Neg => "neg",
            Op::Exp => "exp",
            Op::Log => "log",
            Op::Sqrt => "sqrt",
            Op::Abs => "abs",
            Op::Sign => "sign",
            Op::Tanh => "tanh",
            Op::Floor => "floor",
            Op::Cos => "cos",
            Op::Sin => "sin",
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Pow => "pow",
            Op::Max => "max",
            Op::Gt => "gt",
            Op::Eq => "eq",
            Op::Select => "select",
            Op::Broadcast(_) => "broadcast",
            Op::Reshape(_) => "reshape",
            Op::Sum(_) => "sum",
            Op::MaxReduce(_) => "reduce_max",
            Op::MatMul { .. } => "matmul",
            Op::OneHot(_) => "one_hot",
            Op::Argmax(_) => "argmax",
        }
    }

    /// How many operands the op takes.
    pub fn arity(&self) -> usize {
        match self {
            Op::Input(_) | Op::Const(_) => 0,
            Op::Neg | Op::Exp | Op::Log | Op::Sqrt | Op::Abs | Op::Sign | Op::Tanh => 1,
            Op::Floor | Op::Cos | Op::Sin => 1,
            Op::Broadcast(_) | Op::Reshape(_) | Op::Sum(_) | Op::MaxReduce(_) | Op::OneHot(_) | Op::Argmax(_) => 1,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow | Op::Max | Op::Gt | Op::Eq | Op::MatMul { .. } => 2,
            Op::Select => 3,
        }
    }

    /// Whether the op maps each output element from the operands' elements at the same index.
    pub fn is_elementwise(&self) -> bool {
        match self {
            Op::Neg | Op::Exp | Op::Log | Op::Sqrt | Op::Abs | Op::Sign | Op::Tanh => true,
            Op::Floor | Op::Cos | Op::Sin => true,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow | Op::Max | Op::Gt | Op::Eq | Op::Select => true,
            Op::Input(_) | Op::Const(_) | Op::Broadcast(_) | Op::Reshape(_) | Op::Sum(_) | Op::MaxReduce(_) => false,
            Op::MatMul { .. } | Op::OneHot(_) | Op::Argmax(_) => false,
        }
    }

    /// The shape rule: the result type for operands of these types.
    /// `Input` is typed by its declaration and is not inferred here.
    pub fn infer(&self, args: &[&Type]) -> Result<Type, ShapeError> {
        let f32_only = |t: &Type| -> Result<(), ShapeError> {
            if t.dtype == DType::F32 {
                Ok(())
            } else {
                Err(ShapeError::DType(format!("`{}` needs f32 operands, found {}", self.name(), t)))
            }
        };
        let same = |a: &Type, b: &Type| -> Result<(), ShapeError> {
            if a.shape == b.shape {
                Ok(())
            } else {
                Err(ShapeError::Mismatch(format!(
                    "`{}` needs operands of one shape, found {} and {}",
                    self.name(),
                    fmt_shape(&a.shape),
                    fmt_shape(&b.shape)
                )))
            }
        };
        let axes_ok = |t: &Type, axes: &[usize]| -> Result<(), ShapeError> {
            let sorted = axes.windows(2).all(|w| w[0] < w[1]);
            match axes.iter().find(|&&a| a >= t.shape.len()) {
                Some(a) => Err(ShapeError::Axis(format!(
                    "axis {a} is out of range for a value of shape {}",
                    fmt_shape(&t.shape)
                ))),
                None if !sorted => Err(ShapeError::Axis("axes must be distinct and ascending".into())),
                None => Ok(()),
            }
        };
        let removed = |t: &Type, axes: &[usize]| -> Shape {
            t.shape.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
        };
        let sized = |ty: Type| -> Result<Type, ShapeError> {
            match checked_numel(&ty.shape) {
                Some(_) => Ok(ty),
                None => Err(ShapeError::TooLarge(format!(
                    "a value of shape {} is too large to allocate",
                    fmt_shape(&ty.shape)
                ))),
            }
        };
        match self {
            Op::Input(_) => Err(ShapeError::Mismatch("inputs are typed by their declaration".into())),
            Op::Const(_) => Ok(Type::scalar(DType::F32)),
            Op::Neg | Op::Exp | Op::Log | Op::Sqrt | Op::Abs | Op::Sign | Op::Tanh | Op::Floor | Op::Cos | Op::Sin => {
                f32_only(args[0])?;
                Ok(args[0].clone())
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow | Op::Max | Op::Gt => {
                f32_only(args[0])?;
                f32_only(args[1])?;
                same(args[0], args[1])?;
                Ok(args[0].clone())
            }
            Op::Eq => {
                if args[0].dtype != args[1].dtype {
                    return Err(ShapeError::DType(format!(
                        "`eq` compares values of one element type, found {} and {}",
                        args[0], args[1]
                    )));
                }
                same(args[0], args[1])?;
                Ok(Type::new(DType::F32, args[0].shape.clone()))
            }
            Op::Select => {
                for t in args {
                    f32_only(t)?;
                }
                if args[0].shape == args[1].shape && args[1].shape == args[2].shape {
                    Ok(args[1].clone())
                } else {
                    Err(ShapeError::Mismatch(format!(
                        "`select` needs a mask and two operands of one shape, found {}, {} and {}",
                        fmt_shape(&args[0].shape),
                        fmt_shape(&args[1].shape),
                        fmt_shape(&args[2].shape)
                    )))
                }
            }
            Op::Broadcast(to) => {
                if broadcasts_to(&args[0].shape, to) {
                    sized(Type::new(args[0].dtype, to.clone()))
                } else {
                    Err(ShapeError::Mismatch(format!(
                        "cannot broadcast shape {} to {}",
                        fmt_shape(&args[0].shape),
                        fmt_shape(to)
                    )))
                }
            }
            Op::Reshape(to) => {
                if checked_numel(to) == Some(args[0].numel()) {
                    Ok(Type::new(args[0].dtype, to.clone()))
                } else {
                    Err(ShapeError::Mismatch(format!(
                        "cannot reshape {} to {}: element counts differ",
                        fmt_shape(&args[0].shape),
                        fmt_shape(to)
                    )))
                }
            }
            Op::Sum(axes) | Op::MaxReduce(axes) => {
                f32_only(args[0])?;
                axes_ok(args[0], axes)?;
                Ok(Type::new(DType::F32, removed(args[0], axes)))
            }
            Op::MatMul { ta, tb } => {
                f32_only(args[0])?;
                f32_only(args[1])?;
                let (a, b) = (&args[0].shape, &args[1].shape);
                if a.len() != 2 || b.len() != 2 {
                    return Err(ShapeError::Mismatch(format!(
                        "`@` needs two matrices, found shapes {} and {}",
                        fmt_shape(a),
                        fmt_shape(b)
                    )));
                }
                let (m, k1) = if *ta { (a[1], a[0]) } else { (a[0], a[1]) };
                let (k2, n) = if *tb { (b[1], b[0]) } else { (b[0], b[1]) };
                if k1 != k2 {
                    return Err(ShapeError::Mismatch(format!(
                        "`@` needs the inner dimensions to agree, found [{m}, {k1}] @ [{k2}, {n}]"
                    )));
                }
                sized(Type::new(DType::F32, vec![m, n]))
            }
            Op::OneHot(classes) => {
                if args[0].dtype != DType::I32 || args[0].shape.len() != 1 {
                    return Err(ShapeError::DType(format!("`one_hot` needs i32 labels of rank 1, found {}", args[0])));
                }
                sized(Type::new(DType::F32, vec![args[0].shape[0], *classes]))
            }
            Op::Argmax(axis) => {
                f32_only(args[0])?;
                axes_ok(args[0], &[*axis])?;
                Ok(Type::new(DType::I32, removed(args[0], &[*axis])))
            }
        }
    }
}
